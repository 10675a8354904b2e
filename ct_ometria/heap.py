"""How a process of ct_ometria lets CPython's cyclic garbage collector spend its time.

Loading the code location builds some 220,000 objects (Dagster, pandas, pandera, pydantic and the
definitions) that live as long as the process. Left to the collector, each full collection walks all
of them again: 0.3-0.4 s during which a run's push threads stand still, several times a run. Frozen,
a full collection walks only what the process made since. Collected first, so no garbage is frozen.

Then the youngest generation is collected every ``YOUNG_THRESHOLD`` new container objects instead of
CPython's 700. Extraction and mapping make a few dozen short-lived objects per document (pydantic
models, row dicts, Decimals), nearly all freed by reference counting, yet at 700 the collector ran
every few documents: about a tenth of the CPU of extract, validate, map and hash (``bench/cpu.py``
with the collector off, and at 10,000). The older generations keep CPython's thresholds, so cycles
are still found, a little later.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Freeze what the process has loaded and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
