"""Hostile documents through extraction frames, validation and mapping, without servers: for any one
broken document among valid neighbours, nothing raises; the broken document is either mapped (and
fits Ometria's 60 KB) or rejected with a reason naming the field; its neighbours map exactly as
they do alone."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ct_ometria.ometria.client import MAX_RECORD_BYTES
from ct_ometria.validation import REJECTION
from ct_ometria_tests.hostile import strategies as hostile
from ct_ometria_tests.hostile.frames import extract_and_map, outcome
from ct_ometria_tests.hostile.oracle import names_field

EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def records_by_source(mapped: pd.DataFrame, sources: set[str]) -> dict[str, list[tuple[str, str]]]:
    rows = mapped[mapped["source_id"].isin(sources)].sort_values("id")
    return {source: [(r.id, r.record if pd.isna(r.rejection) else r.rejection) for r in rows[rows["source_id"] == source].itertuples()]
            for source in sources}  # fmt: skip


def check_one_broken_among_valid(entity: str, case: hostile.Case, neighbours: list[dict], position: int) -> None:
    neighbours = [n for n in neighbours if n["id"] != case.id]
    documents = [*neighbours[:position], case.document, *neighbours[position:]]
    extracted, mapped = extract_and_map(entity, documents)  # never raises

    reasons, records, sizes = outcome(extracted, mapped, case.id)
    if reasons:
        reason = "; ".join(reasons)
        assert names_field(reason, case.breakage), f"{case.breakage}: {reason[:300]!r} names another field"
        assert not records, f"{case.breakage}: rejected ({reason[:200]}) yet some of its records are valid"
    else:
        assert not case.breakage.must_park, f"{case.breakage} was mapped: {[r[:300] for r in records]}"
        assert records and all(size <= MAX_RECORD_BYTES for size in sizes)

    _, alone_mapped = extract_and_map(entity, neighbours)
    ids = {n["id"] for n in neighbours}
    assert alone_mapped[REJECTION].isna().all(), "the valid neighbours must map on their own"
    assert records_by_source(mapped, ids) == records_by_source(alone_mapped, ids)


@EXAMPLES
@given(case=hostile.customers().flatmap(lambda d: hostile.broken("customer", d)),
       neighbours=st.lists(hostile.customers(), min_size=1, max_size=3), position=st.integers(0, 3))  # fmt: skip
def test_a_broken_customer_is_mapped_or_parked_naming_its_field_and_its_neighbours_map_as_alone(case, neighbours, position):
    check_one_broken_among_valid("customer", case, neighbours, position)


@EXAMPLES
@given(case=hostile.orders().flatmap(lambda d: hostile.broken("order", d)),
       neighbours=st.lists(hostile.orders(), min_size=1, max_size=3), position=st.integers(0, 3))  # fmt: skip
def test_a_broken_order_is_mapped_or_parked_naming_its_field_and_its_neighbours_map_as_alone(case, neighbours, position):
    check_one_broken_among_valid("order", case, neighbours, position)


@EXAMPLES
@given(case=hostile.products().flatmap(lambda d: hostile.broken("product", d)),
       neighbours=st.lists(hostile.products(), min_size=1, max_size=3), position=st.integers(0, 3))  # fmt: skip
def test_a_broken_product_is_mapped_or_parked_naming_its_field_and_its_neighbours_map_as_alone(case, neighbours, position):
    check_one_broken_among_valid("product", case, neighbours, position)
