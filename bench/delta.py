"""A daily delta costs only the change: after a full backfill, 1% of every resource changes, and the
next sync must send exactly those records, in a fraction of the full run's time.

Runs the full backfill, then marks ``--share`` of customers, orders and products as changed today
(version 2, new content) late yesterday, syncs yesterday's partition again and prints: records changed, records sent (and
whether they are exactly the changed ones), push requests per 1,000 changed records, and the delta's
time against the full run's.

    .venv/bin/python bench/delta.py --orders 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import pushes, report, servers, timed_sync  # noqa: E402
from bench.store import Store  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="days of history the orders spread over (a year)")
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    store = Store(args.orders, args.days)
    with servers(args.orders, args.days, args.latency_ms) as bench:
        full = timed_sync(bench, store.start.date(), store.end - dt.timedelta(days=1))
        if full.returncode != 0:
            print(full.output[-4000:])
            return 1
        before = len(pushes(bench))
        # The delta lands in the last day that can be synced (yesterday, UTC), beside that day's own documents.
        yesterday = store.end - dt.timedelta(days=1)
        moment = dt.datetime.combine(yesterday, dt.time(23), dt.timezone.utc)
        bench.change(args.share, moment)
        store.changed_share, store.changed_at = args.share, moment
        delta = timed_sync(bench, yesterday, yesterday)
        if delta.returncode != 0:
            print(delta.output[-4000:])
            return 1
        sent = pushes(bench)[before:]
    expected = {
        "contact": {store.id_of("customer", i) for i in store.changed("customer")},
        "order": {store.id_of("order", i) for i in store.changed("order")},
        # A changed product sends its parent (by key) and its variants.
        "product": {f"product-{i}" for i in store.changed("product")},
    }
    got: dict[str, set[str]] = {"contact": set(), "order": set(), "product": set()}
    for request in sent:
        got[request["type"]].update(request["record_ids"])
    parents = {i for i in got["product"] if i.startswith("product-")}
    exact = got["contact"] == expected["contact"] and got["order"] == expected["order"] and parents == expected["product"]
    changed = sum(len(v) for v in expected.values())
    records = sum(r["record_count"] for r in sent)
    figures = {
        "orders": args.orders, "share": args.share, "changed_sources": changed, "records_sent": records,
        "exactly_the_changed": exact, "push_requests": len(sent),
        "requests_per_1000_changed": round(len(sent) / records * 1000, 2) if records else None,
        "full_seconds": round(full.seconds, 1), "delta_seconds": round(delta.seconds, 1),
        "delta_share_of_full": round(delta.seconds / full.seconds, 3),
    }  # fmt: skip
    report(figures, args.json)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
