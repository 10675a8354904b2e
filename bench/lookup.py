"""How long a run's plan takes to look up its records in a big ledger, before and after the ledger
analyses its table.

Fills a fresh PostgreSQL ledger schema with ``--rows`` pushed records (a fifth contacts, the rest
orders, written straight into the table as a backfill's accepted batches leave them, with no
analysis since), then times ``Ledger.known`` for ``--ids`` order ids the ledger does not hold (a
backfill's next run): once with PostgreSQL's statistics as they were, once after the ledger's own
bulk lookup analysed the table. Prints both and the query plan of one 500-id chunk each time.

    .venv/bin/python bench/lookup.py --rows 400000 --ids 19000
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import POSTGRES_URL, report  # noqa: E402
from ct_ometria.ledger import Ledger  # noqa: E402
from ct_ometria.ledger import store as ledger_store  # noqa: E402


def chunk_plan(engine, schema: str, ids: list[str]) -> str:  # noqa: ANN001
    listed = ", ".join(f"'{record_id}'" for record_id in ids[: ledger_store.CHUNK])
    with engine.connect() as connection:
        rows = connection.execute(text(f"EXPLAIN SELECT record_id FROM {schema}.pushed_records "
                                       f"WHERE record_type = 'order' AND record_id IN ({listed})")).scalars()  # fmt: skip
        # The innermost scan: the index (or the table) the rows are found through.
        return [row for row in rows if "Scan" in row][-1].strip().removeprefix("->").strip().split("  (")[0]


def timed_lookup(ledger: Ledger, ids: list[str]) -> float:
    began = time.perf_counter()
    ledger.known("order", ids)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--ids", type=int, default=19_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    schema = f"bench_lookup_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL)
    ledger = Ledger(POSTGRES_URL, schema)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {schema}.pushed_records SET (autovacuum_enabled = false)"))
            connection.execute(text(
                f"INSERT INTO {schema}.pushed_records (record_type, record_id, content_hash, source_id, pushed_at) "
                f"SELECT CASE WHEN i % 5 = 0 THEN 'contact' ELSE 'order' END, 'r-' || i, md5(i::text), 'r-' || i, now() "
                f"FROM generate_series(1, {args.rows}) i"))  # fmt: skip
        time.sleep(1.5)  # PostgreSQL's change counters are flushed within a second
        ids = [uuid.uuid4().hex for _ in range(args.ids)]
        stale_plan = chunk_plan(engine, schema, ids)
        # As before the ledger kept its statistics: the same lookup without the analysis.
        analyse, ledger._keep_statistics = ledger._keep_statistics, lambda: None
        stale = timed_lookup(ledger, ids)
        ledger._keep_statistics = analyse
        first = timed_lookup(ledger, ids)  # analyses the table, then looks up
        fresh = min(timed_lookup(ledger, ids) for _ in range(3))
        figures = {
            "rows": args.rows, "ids": args.ids, "stale_seconds": round(stale, 3), "stale_plan": stale_plan,
            "first_lookup_with_analysis_seconds": round(first, 3), "analysed_seconds": round(fresh, 3),
            "analysed_plan": chunk_plan(engine, schema, ids),
        }  # fmt: skip
    finally:
        ledger.engine.dispose()
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
    report(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
