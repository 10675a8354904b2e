"""CPU cost of extract + validate + map + hash, per 1,000 records, on one core, without the network.

Generates the store's documents in memory, then times exactly what the pipeline does with a page of
them: entity frames (pydantic models, flat columns, pandera), the per-day verdict, the mapping to
Ometria records (pandera again), and the ledger candidates (canonical JSON and SHA-256). Prints the
milliseconds per 1,000 records for each resource and in all; ``--profile`` prints the hottest
functions (cProfile, cumulative).

    .venv/bin/python bench/cpu.py --orders 20000
    .venv/bin/python bench/cpu.py --orders 20000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.store import Store  # noqa: E402
from ct_ometria.commercetools.frames import CUSTOMERS, ORDERS, PRODUCTS, entity_frame  # noqa: E402
from ct_ometria.commercetools.models import Project, Store as CtStore  # noqa: E402
from ct_ometria.config import MappingConfig  # noqa: E402
from ct_ometria.delivery import candidates  # noqa: E402
from ct_ometria.heap import settle as settle_heap  # noqa: E402
from ct_ometria.mapping.frames import contacts_frame, orders_frame, products_frame  # noqa: E402
from ct_ometria.mapping.stores import resolve_stores  # noqa: E402
from ct_ometria.validation import judge  # noqa: E402

CHUNK = 2000  # the documents of one daily partition of a mid-size store


def run(store: Store, warm_up: bool = True) -> dict[str, tuple[int, float]]:
    if warm_up:
        # One small untimed pass first: the first frame imports pandera's backends and builds
        # pydantic's and pandas' lazy state, a one-off cost of the process, not of its records.
        run(Store(200, 1), warm_up=False)
        # As every run's process does once the code location has loaded (ct_ometria.heap).
        settle_heap()
    config = MappingConfig()
    stores = resolve_stores([CtStore.model_validate(s) for s in store.stores()], Project.model_validate(store.project()), config)
    now = dt.datetime.now(dt.timezone.utc)
    steps = {
        "customer": (CUSTOMERS, lambda f: contacts_frame(f, config, {}), "contact"),
        "order": (ORDERS, lambda f: orders_frame(f, stores, config), "order"),
        "product": (PRODUCTS, lambda f: products_frame(f, stores, config, now), "product"),
    }
    timings = {}
    for kind, (entity, mapper, record_type) in steps.items():
        records, spent = 0, 0.0
        for start in range(0, store.counts[kind], CHUNK):
            documents = [store.document(kind, i) for i in range(start, min(start + CHUNK, store.counts[kind]))]
            # The documents as the HTTP client hands them over: parsed from JSON text.
            documents = json.loads(json.dumps(documents))
            context = {d["id"]: _context(kind, d) for d in documents}
            began = time.process_time()
            frame, _ = judge(entity_frame(documents, entity, context), 0.05, 10)
            mapped, _ = judge(mapper(frame), 0.05, 10)
            records += len(candidates(mapped, record_type))
            spent += time.process_time() - began
        timings[kind] = (records, spent)
    return timings


def _context(kind: str, document: dict) -> dict | None:
    if kind == "order":
        return {"customer": {"id": document.get("customerId")} if document.get("customerId") else None,
                "product_keys": {}, "discount_codes": [], "refunds": []}  # fmt: skip
    if kind == "product":
        return {"categories": {}}
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    store = Store(args.orders, 30)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    timings = run(store)
    if profiler:
        profiler.disable()
    total_records = sum(r for r, _ in timings.values())
    total_seconds = sum(s for _, s in timings.values())
    figures = {kind: {"records": r, "ms_per_1000": round(1000 * s / r * 1000, 1)} for kind, (r, s) in timings.items()}
    figures["all"] = {"records": total_records, "ms_per_1000": round(1000 * total_seconds / total_records * 1000, 1)}
    for kind, row in figures.items():
        print(f"{kind:>9}: {row['records']:8d} records  {row['ms_per_1000']:7.1f} ms CPU per 1,000")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
