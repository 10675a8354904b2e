"""Validation that sets bad records aside instead of failing their neighbours.

A frame carries a ``rejection`` column: empty for a valid row, otherwise ``field: reason`` for
every problem found. pandera finds the problems (lazily, all at once); this module turns its
failure cases into per-row reasons and decides whether a partition as a whole is acceptable.
Failure values are deliberately left out of the reasons: they are often personal data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandas.api.types import infer_dtype
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors

REJECTION = "rejection"


@dataclass(frozen=True)
class Text(pandas_engine.NpString):
    """pandera's ``str`` with the same verdicts and failure cases, checked in C when every value is text.

    pandera checks a ``str`` column by calling a Python function on every cell: ~0.6 µs a cell, about
    6% of extraction and mapping's CPU over the dozen text columns an order passes. pandas' ``infer_dtype`` (Cython)
    answers "all text" at once; only a column that is not falls back to pandera's cell-by-cell check,
    which names the rows at fault."""

    def check(self, pandera_dtype, data_container=None):  # noqa: ANN001, ANN201
        if data_container is not None and infer_dtype(data_container, skipna=True) in ("string", "empty"):
            return True
        return super().check(pandera_dtype, data_container)


TEXT = Text()


def join_reasons(*reasons: str | None) -> str | None:
    parts = [reason for reason in reasons if reason]
    return "; ".join(dict.fromkeys(parts)) if parts else None


def apply_schema(frame: pd.DataFrame, schema: pa.DataFrameSchema, fields: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Validate ``frame`` with ``schema``; add each failing row's reasons to its ``rejection``.

    Rows already rejected upstream (unreadable documents, unmappable fields) are not checked again:
    their first reason is the useful one. ``fields`` names the source field of a column (``currency``
    is ``totalPrice.currencyCode``), so a reason says what to fix in the source document."""
    frame = frame.copy()
    if REJECTION not in frame:
        frame[REJECTION] = None
    candidates = frame[frame[REJECTION].isna()]
    if candidates.empty:
        return frame
    try:
        # Typed as if the rejected rows were not there: a rejected row's missing flag (None beside the
        # valid rows' booleans) would otherwise make a column's dtype fail for every row of the frame.
        schema.validate(candidates.infer_objects(), lazy=True)
        return frame
    except SchemaErrors as errors:
        cases = errors.failure_cases
    reasons: dict[object, list[str]] = defaultdict(list)
    for case in cases.itertuples(index=False):
        column = case.column if isinstance(case.column, str) else "record"
        column = (fields or {}).get(column, column)
        reason = f"{column}: {describe_check(case.check)}"
        if pd.isna(case.index):
            # A column-level failure (missing column, wrong dtype) concerns every row.
            for index in candidates.index:
                reasons[index].append(reason)
        else:
            reasons[case.index].append(reason)
    for index, found in reasons.items():
        if index in frame.index:
            frame.at[index, REJECTION] = join_reasons(frame.at[index, REJECTION], *found)
    return frame


def describe_check(check: object) -> str:
    text = str(check)
    if text.startswith("not_nullable"):
        return "is missing"
    if text.startswith("field_uniqueness"):
        return "is duplicated"
    if text.startswith("column_in_dataframe"):
        return "column is missing"
    return text


@dataclass(frozen=True)
class Verdict:
    total: int
    invalid: int
    # Days whose invalid records are both more than tolerated and over the share.
    failing: tuple[str, ...] = ()
    days: int = 1

    @property
    def passed(self) -> bool:
        return not self.failing

    @property
    def all_failing(self) -> bool:
        return bool(self.failing) and len(self.failing) >= self.days

    @property
    def invalid_share(self) -> float:
        return self.invalid / self.total if self.total else 0.0


def verdict(frame: pd.DataFrame, max_invalid_share: float, tolerated: int) -> Verdict:
    """Judge each day on its own: a day fails only when its invalid records are both more than
    ``tolerated`` and over the share. One broken record never stops a store's sync, a broken feed
    never floods Ometria, and one bad day in a backfill neither hides among nor blocks the others."""
    total = len(frame)
    invalid = int(frame[REJECTION].notna().sum()) if total else 0
    failing = []
    days = 0
    if total:
        for day, rows in frame.groupby(frame["partition"].fillna("unknown")):
            days += 1
            bad = int(rows[REJECTION].notna().sum())
            if bad > tolerated and bad > max_invalid_share * len(rows):
                failing.append(str(day))
    return Verdict(total=total, invalid=invalid, failing=tuple(failing), days=max(days, 1))


def hold_failing_days(frame: pd.DataFrame, result: Verdict) -> pd.DataFrame:
    """Set aside every record of a failing day (with the reason), so the other days flow on."""
    if not result.failing:
        return frame
    frame = frame.copy()
    held = frame["partition"].isin(result.failing) & frame[REJECTION].isna()
    frame.loc[held, REJECTION] = "held: its day has more invalid records than the configured tolerance"
    return frame


def valid_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[REJECTION].isna()]


def invalid_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[REJECTION].notna()]


def judge(frame: pd.DataFrame, max_invalid_share: float, tolerated: int) -> tuple[pd.DataFrame, Verdict]:
    """The verdict on ``frame`` and the frame with its failing days held back (unless every day
    fails: then the ERROR check blocks everything and nothing needs holding)."""
    result = verdict(frame, max_invalid_share, tolerated)
    return (frame if result.all_failing else hold_failing_days(frame, result)), result
