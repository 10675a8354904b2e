"""Backfill throughput and memory: a whole generated store, commercetools to the sandbox, in one run.

Starts the streaming commercetools server over a generated store and the sandbox in rate-limited mode
(8 pushes per second, ``--latency-ms`` per push), runs ``ct-ometria sync`` over every day of the store
as its own process, and prints the records sent, the wall time, the throughput against Ometria's
ceiling of 800 records per second, the 429 answers, the push requests, and the run's peak memory.

    .venv/bin/python bench/backfill.py --orders 10000
    .venv/bin/python bench/backfill.py --orders 100000 --latency-ms 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    CEILING, add_margin_option, apply_margin, before_refusals, idle_spans, peak_window, pushes, received, report, servers, timed_sync,
)
from bench.store import Store  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="days of history the orders spread over (a year)")
    parser.add_argument("--last-days", type=int, default=None,
                        help="sync only the store's last N days (one weekly run's peak memory at a store's volume)")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--days-per-run", type=int, default=None,
                        help="ct-ometria sync --days-per-run (default: runs sized by volume, sync.records_per_run)")
    parser.add_argument("--workers", type=int, default=1, help="ct-ometria sync --workers")
    parser.add_argument("--postgres", action="store_true", help="the PostgreSQL instance and ledger (needed for --workers > 1)")
    parser.add_argument("--ometria-pool", type=int, default=None,
                        help="push steps at once across runs (the instance's `ometria` pool limit)")
    add_margin_option(parser)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None, help="write the sync's whole output (every run's) here")
    args = parser.parse_args()
    store = Store(args.orders, args.days)
    with servers(args.orders, args.days, args.latency_ms, postgres=args.postgres, ometria_pool=args.ometria_pool) as bench:
        last = store.end - dt.timedelta(days=1)
        margin = apply_margin(bench, args.push_rate_margin)
        extra = ["--workers", str(args.workers)]
        if args.days_per_run:
            extra += ["--days-per-run", str(args.days_per_run)]
        first = last - dt.timedelta(days=args.last_days - 1) if args.last_days else store.start.date()
        run = timed_sync(bench, first, last, *extra)
        if args.output:
            args.output.write_text(run.output)
        if run.returncode != 0:
            failures = [line for line in run.output.splitlines() if "failure" in line or "FAILED" in line]
            print("\n".join(failures[-20:]) or run.output[-4000:])
            return 1
        stats = bench.sandbox("stats")
        requests = pushes(bench)
        refusals = before_refusals(bench.sandbox("requests")) if stats["throttled"] else []
        servers_cpu = bench.server_cpu_seconds()
    records = sum(r["record_count"] for r in requests)
    stamps = received(requests)
    idle = idle_spans(requests, run.started_at, run.started_at + run.seconds)
    push_seconds = stamps[-1] - stamps[0]
    figures = {
        "orders": args.orders, "customers": store.counts["customer"], "products": store.counts["product"],
        "days": args.days, "last_days": args.last_days, "days_per_run": args.days_per_run,
        "runs": len(re.findall(r"^run \S+ (?:succeeded|FAILED)", run.output, re.MULTILINE)), "workers": args.workers,
        "postgres": args.postgres, "ometria_pool": args.ometria_pool, "latency_ms": args.latency_ms,
        "push_rate_margin": margin,
        "records_sent": records, "push_requests": len(requests),
        "records_per_request": round(records / len(requests), 1), "wall_seconds": round(run.seconds, 1),
        "end_to_end_records_per_second": round(records / run.seconds, 1),
        "end_to_end_share_of_ceiling": round(records / run.seconds / CEILING, 3),
        "push_phase_records_per_second": round(records / push_seconds, 1) if push_seconds else None,
        "push_phase_share_of_ceiling": round(records / push_seconds / CEILING, 3) if push_seconds else None,
        # Spans over a second without a push: the first is the first run's extraction and mapping.
        "idle_seconds": round(sum(length for _, length in idle), 1), "idle_spans": len(idle),
        "idle_before_first_push": idle[0][1] if idle and idle[0][0] == 0 else 0.0,
        "idle_longest": sorted(idle, key=lambda span: -span[1])[:8],
        "throttled_429": stats["throttled"], "peak_pushes_in_1s": peak_window(requests), "before_429s": refusals,
        "peak_rss_mb": round(run.peak_rss_mb, 1), "stored": stats["records"],
        # On a machine this small the servers share the sync's cores: where the CPU went.
        "cpu_seconds": {"sync": run.cpu_seconds, **servers_cpu}, "cores": os.cpu_count(),
    }  # fmt: skip
    report(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
