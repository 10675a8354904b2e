"""Metadata is the data team's dashboard: counts, rates, small previews, and the records set aside.

Previews show identifiers and technical columns only; personal data (emails, names) stays out.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from ct_ometria.mapping.common import shown_id
from ct_ometria.validation import REJECTION, Verdict, invalid_rows

PREVIEW_ROWS = 5
REJECTION_ROWS = 20
# Columns holding record ids: a record set aside because its id looks like personal data keeps that id.
ID_COLUMNS = frozenset({"id", "record_id", "source_id", "parent_id"})


def md_table(frame: pd.DataFrame, columns: Sequence[str], limit: int) -> MetadataValue:
    if frame.empty:
        return MetadataValue.md("_none_")
    shown = frame[list(columns)].head(limit)
    masked = [column in ID_COLUMNS for column in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in shown.itertuples(index=False):
        values = [shown_id(value) if mask else value for value, mask in zip(row, masked, strict=True)]
        cells = [str(value).replace("|", "\\|").replace("\n", " ") for value in values]
        lines.append("| " + " | ".join(cells) + " |")
    if len(frame) > limit:
        lines.append(f"\n_{len(frame) - limit} more not shown_")
    return MetadataValue.md("\n".join(lines))


def per_partition_counts(frame: pd.DataFrame) -> MetadataValue:
    if frame.empty:
        return MetadataValue.md("_no records_")
    counts = (
        frame.assign(invalid=frame[REJECTION].notna())
        .groupby("partition")
        .agg(records=("id", "size"), invalid=("invalid", "sum"))
        .reset_index()
    )
    return md_table(counts, ["partition", "records", "invalid"], limit=62)


def validation_check(check_name: str, frame: pd.DataFrame, verdict: Verdict, what: str) -> AssetCheckResult:
    """The blocking check result for a frame: which records were set aside, and whether the share of
    them is small enough for the valid ones to flow on."""
    if verdict.passed:
        description = f"{verdict.invalid} of {verdict.total} {what} set aside with their reason; the rest flow on"
    elif verdict.all_failing:
        description = f"{verdict.invalid} of {verdict.total} {what} invalid: over the configured tolerance, nothing flows on"
    else:
        days = ", ".join(verdict.failing)
        description = f"days over the tolerance are held back ({days}); the other days flow on"
    return AssetCheckResult(
        check_name=check_name,
        passed=verdict.passed,
        # ERROR blocks everything downstream: only when no day can flow. A partly failing backfill warns
        # and holds back its failing days (their records are parked with the reason).
        severity=AssetCheckSeverity.ERROR if verdict.passed or verdict.all_failing else AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "records": MetadataValue.int(verdict.total),
            "invalid": MetadataValue.int(verdict.invalid),
            "invalid_share": MetadataValue.float(round(verdict.invalid_share, 4)),
            "days_held": MetadataValue.text(", ".join(verdict.failing) or "none"),
            "invalid_records": md_table(invalid_rows(frame), ["id", "partition", REJECTION], REJECTION_ROWS),
        },
    )
