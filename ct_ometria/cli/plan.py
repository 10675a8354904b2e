"""Runs sized by volume: how ``ct-ometria sync`` cuts a range of days into Dagster runs.

A run costs a few seconds of Dagster bookkeeping whatever its size, and holds its days' records in
memory. Fixed runs of ``sync.days_per_run`` days are wrong for most stores: a small store pays the
fixed cost fifty times a year, a big one holds too much in a week. So the range is cut by what
commercetools holds: consecutive days join one run while the documents last modified in them
(customers, orders, products) stay within ``sync.records_per_run``, up to ``MAX_DAYS``; a day above
it runs alone.

The counts come from commercetools' ``total`` (one result read per query). With a ``where`` it is an
estimate capped at 10,000, so a range whose count reaches the cap is halved until every part is
below it (or is one day); a year of a million orders takes about 900 count queries (three
resources per part), an empty decade a handful: a part known to hold nothing is split without
asking, and a range over ``MAX_DAYS`` is cut at that many days, not halved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ct_ometria.commercetools.client import TOTAL_CAP, CommercetoolsClient

COUNTED = ("customers", "orders", "products")
DAY = dt.timedelta(days=1)
# A run's days are its partitions, each with its own events and files: a year at most, as
# ``sync.days_per_run`` allows.
MAX_DAYS = 366

# The documents of one resource last modified in the days [first, last]; None when unknown.
Count = Callable[[str, dt.date, dt.date], "int | None"]


@dataclass(frozen=True)
class Run:
    first: dt.date
    last: dt.date
    documents: int
    # A day whose count reached commercetools' cap holds at least ``documents``: it runs alone.
    capped: bool = False

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def plan_runs(first: dt.date, last: dt.date, count: Count, budget: int,
              resources: Sequence[str] = COUNTED) -> list[Run] | None:  # fmt: skip
    """[first, last] as consecutive runs of whole days holding at most ``budget`` documents and
    ``MAX_DAYS`` days each (a day holding more runs alone). None when commercetools gave no count."""

    def counted(start: dt.date, end: dt.date) -> Run | None:
        counts = [count(resource, start, end) for resource in resources]
        if any(n is None for n in counts):
            return None
        return Run(start, end, sum(counts), capped=any(n >= TOTAL_CAP for n in counts))

    def halves(part: Run) -> tuple[Run, Run] | None:
        # A year at most in the first part, so a long range is cut at run lengths, not halved.
        middle = part.first + dt.timedelta(days=min(part.days // 2, MAX_DAYS) - 1)
        if not part.capped and part.documents == 0:
            return Run(part.first, middle, 0), Run(middle + DAY, part.last, 0)
        head = counted(part.first, middle)
        if head is None:
            return None
        if part.capped or head.capped:
            tail = counted(middle + DAY, part.last)
        else:  # exact counts: the second half is what the first leaves
            tail = Run(middle + DAY, part.last, max(part.documents - head.documents, 0))
        return (head, tail) if tail is not None else None

    whole = counted(first, last)
    if whole is None:
        return None
    runs: list[Run] = []
    pending = [whole]  # a stack: the next part of the range is at its end
    while pending:
        part = pending.pop()
        too_big = part.capped or part.documents > budget or part.days > MAX_DAYS
        if runs and not too_big and not runs[-1].capped:
            joined = Run(runs[-1].first, part.last, runs[-1].documents + part.documents)
            if joined.documents <= budget and joined.days <= MAX_DAYS:
                runs[-1] = joined
                continue
        room = budget - runs[-1].documents if runs and not runs[-1].capped else 0
        if part.days > 1 and (too_big or part.documents / part.days <= room):
            # Too big for a run, or for what the last run has left while a day of it may still fit:
            # halve it, so the last run takes what fits and the rest starts the next.
            split = halves(part)
            if split is None:
                return None
            pending += [split[1], split[0]]
            continue
        runs.append(part)
    return runs


def client_count(client: CommercetoolsClient) -> Count:
    def count(resource: str, first: dt.date, last: dt.date) -> int | None:
        start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
        end = dt.datetime.combine(last + DAY, dt.time(), dt.timezone.utc)
        return client.count_modified(resource, start, end)

    return count
