"""Runs sized by volume (``ct_ometria.cli.plan``): consecutive days join a run while their documents
fit the budget; the counts behave as commercetools' (capped at 10,000 under a ``where``)."""

import datetime as dt
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from ct_ometria.cli.plan import COUNTED, MAX_DAYS, plan_runs
from ct_ometria.commercetools.client import TOTAL_CAP

FIRST = dt.date(2024, 1, 1)


def counter(per_day: list[dict[str, int]], queries: list | None = None):
    """commercetools' ``total`` over days [first, last] of a store holding ``per_day`` documents."""

    def count(resource: str, first: dt.date, last: dt.date) -> int:
        if queries is not None:
            queries.append((resource, first, last))
        days = per_day[(first - FIRST).days:(last - FIRST).days + 1]
        return min(sum(day.get(resource, 0) for day in days), TOTAL_CAP)

    return count


def day_total(day: dict[str, int]) -> int:
    return sum(day.get(resource, 0) for resource in COUNTED)


def check_plan(per_day: list[dict[str, int]], budget: int, queries: list | None = None) -> list:
    last = FIRST + dt.timedelta(days=len(per_day) - 1)
    runs = plan_runs(FIRST, last, counter(per_day, queries), budget)
    # Consecutive whole days covering the range once.
    assert runs[0].first == FIRST and runs[-1].last == last
    assert all(b.first == a.last + dt.timedelta(days=1) for a, b in pairwise(runs))
    for run in runs:
        days = per_day[(run.first - FIRST).days:(run.last - FIRST).days + 1]
        held = sum(day_total(day) for day in days)
        assert run.days <= MAX_DAYS
        # Within the budget, unless it is one day holding more.
        assert held <= budget or run.days == 1, (run, held)
        if not run.capped:
            assert run.documents == held
    # No two neighbours would have fitted one run.
    for a, b in pairwise(runs):
        assert a.capped or b.capped or a.documents + b.documents > budget or a.days + b.days > MAX_DAYS, (a, b)
    return runs


day = st.fixed_dictionaries({"customers": st.integers(0, 400), "orders": st.integers(0, 2000),
                             "products": st.integers(0, 50)})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(per_day=st.lists(day, min_size=1, max_size=120), budget=st.integers(100, 30_000))
def test_runs_cover_the_range_within_the_budget_and_are_not_needlessly_cut(per_day, budget):
    check_plan(per_day, budget)


def test_a_small_store_is_one_run_and_a_busy_one_is_cut_by_its_documents():
    quiet = [{"orders": 20, "customers": 5, "products": 1}] * 365
    runs = check_plan(quiet, 25_000)
    assert [(r.days, r.documents) for r in runs] == [(365, 26 * 365)]
    busy = [{"orders": 2740, "customers": 550, "products": 14}] * 365
    runs = check_plan(busy, 25_000)
    assert {r.days for r in runs[:-1]} == {7}  # 7 x 3,304 = 23,128; 8 days would be 26,432
    assert len(runs) == 53


def test_a_day_over_the_cap_runs_alone_and_is_split_no_further():
    per_day = [{"orders": 100}] * 10 + [{"orders": 30_000}] + [{"orders": 100}] * 10
    runs = check_plan(per_day, 25_000)
    assert [(r.days, r.capped) for r in runs] == [(10, False), (1, True), (10, False)]


def test_a_range_longer_than_a_year_is_cut_into_years_at_most():
    runs = check_plan([{"orders": 1}] * 1000, 25_000)
    assert [r.days for r in runs] == [366, 366, 268]


def test_no_count_means_no_plan():
    assert plan_runs(FIRST, FIRST + dt.timedelta(days=9), lambda resource, first, last: None, 1000) is None


def test_a_year_of_a_million_orders_is_planned_in_about_nine_hundred_queries():
    queries: list = []
    check_plan([{"orders": 2740, "customers": 550, "products": 14}] * 366, 25_000, queries)
    assert len(queries) <= 930


def test_an_empty_decade_is_planned_in_a_handful_of_queries():
    queries: list = []
    runs = check_plan([{}] * 3653, 25_000, queries)
    assert [r.days for r in runs] == [366] * 9 + [359]
    assert len(queries) == 3  # one count per resource, for the whole decade
