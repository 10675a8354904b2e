"""Two backfills and the event path at once stay under one account's rate in total.

Starts two ``ct-ometria sync`` processes over the two halves of the generated store's days, and a
third process pushing custom events in small batches as the event runs do, all against one sandbox
(8 pushes in any second, 429 beyond), one ledger and one Dagster instance on PostgreSQL. Prints the pushes, the 429 answers
and the most pushes the sandbox received in any second.

    .venv/bin/python bench/one_account.py --orders 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT, add_margin_option, apply_margin, before_refusals, peak_window, pushes, report, servers, timed_sync,
)
from bench.store import Store  # noqa: E402

EVENTS = textwrap.dedent('''
    import os, sys, time
    from ct_ometria.defs.resources import OmetriaResource
    from ct_ometria.settings import push_rate_margin
    resource = OmetriaResource(api_key=os.environ["OMETRIA_API_KEY"], api_url=os.environ["OMETRIA_API_URL"],
                               shared_rate_url=os.environ["CT_OMETRIA_DATABASE_URL"],
                               shared_rate_schema=os.environ["CT_OMETRIA_DATABASE_SCHEMA"],
                               push_rate_margin=push_rate_margin())
    sent = 0
    with resource.client() as client:
        while not os.path.exists(sys.argv[1]):
            batch = [{"@type": "custom_event", "id": f"bench-{sent + i}", "event_type": "product_viewed",
                      "timestamp": "2026-11-27T10:00:00+00:00", "identity_email": "viewer@example.com"} for i in range(5)]
            sent += client.push(batch).sent
            time.sleep(0.5)
    print(sent)
''')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=20)
    add_margin_option(parser)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    store = Store(args.orders, args.days)
    # Two sync processes at once need the PostgreSQL instance: SQLite storage serialises writers,
    # and two processes creating its tables at once can fail to start (README, "Command line").
    with servers(args.orders, args.days, latency_ms=50, postgres=True) as bench:
        margin = apply_margin(bench, args.push_rate_margin)
        stop = bench.home / "stop-events"
        events = subprocess.Popen([sys.executable, "-c", EVENTS, str(stop)], cwd=ROOT, env=bench.env,
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        first, last = store.start.date(), store.end - dt.timedelta(days=1)
        middle = first + (last - first) / 2
        import concurrent.futures as futures

        with futures.ThreadPoolExecutor(2) as pool:
            halves = [pool.submit(timed_sync, bench, first, middle),
                      pool.submit(timed_sync, bench, middle + dt.timedelta(days=1), last)]  # fmt: skip
            runs = [half.result() for half in halves]
        stop.touch()
        event_records = int(events.communicate(timeout=60)[0].strip() or 0)
        stats = bench.sandbox("stats")
        requests = pushes(bench)
        log = bench.sandbox("requests")
        refused = [r for r in log if r["status"] == 429]
        refusals = before_refusals(log) if refused else []
    failed = [run.output[-2000:] for run in runs if run.returncode != 0]
    figures = {
        "orders": args.orders, "sync_processes": 2, "event_records": event_records,
        "push_rate_margin": margin,
        "push_requests": len(requests), "records": sum(r["record_count"] for r in requests),
        "throttled_429": stats["throttled"], "push_429": len(refused), "peak_pushes_in_1s": peak_window(requests), "before_429s": refusals,
        "wall_seconds": round(max(run.seconds for run in runs), 1), "failed_runs": len(failed),
    }  # fmt: skip
    report(figures, args.json)
    for output in failed:
        print(output)
    return 0 if not failed and stats["throttled"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
