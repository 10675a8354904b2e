"""The shared body of every sync asset: push a frame's valid records, report, and tell the truth."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetExecutionContext, Failure, MaterializeResult, MetadataValue

from ct_ometria.defs.metadata import md_table
from ct_ometria.defs.resources import OmetriaResource
from ct_ometria.ometria.client import Encoded, OmetriaClient, PushAborted, PushReport
from ct_ometria.validation import valid_rows


def encoded(frame: pd.DataFrame, record_type: str) -> Iterable[Encoded]:
    return (Encoded(record_type, row.id, row.record.encode("utf-8")) for row in valid_rows(frame).itertuples(index=False))


def push_metadata(report: PushReport, to_send: int, elapsed: float, client: OmetriaClient) -> dict:
    batches = pd.DataFrame(
        [(b.request_id, len(b.record_ids), b.status, b.attempts) for b in report.batches],
        columns=["request_id", "records", "status", "attempts"],
    )
    refused = pd.DataFrame([(r.record_type, r.record_id, r.reason) for r in report.refused], columns=["type", "id", "reason"])
    failed = pd.DataFrame([(ids[0], len(ids), error) for ids, error in report.failed], columns=["first_id", "records", "error"])
    return {
        "to_send": MetadataValue.int(to_send),
        "pushed": MetadataValue.int(report.sent),
        "accepted": MetadataValue.int(report.accepted),
        "rejected": MetadataValue.int(report.rejected),
        "refused_before_sending": MetadataValue.int(len(report.refused)),
        "failed_batches": MetadataValue.int(len(report.failed)),
        "requests": MetadataValue.int(report.requests),
        "retries": MetadataValue.int(client.retries),
        "throttled_429": MetadataValue.int(client.throttled),
        "duration_seconds": MetadataValue.float(round(elapsed, 3)),
        "records_per_second": MetadataValue.float(round(report.sent / elapsed, 1) if elapsed else 0.0),
        "batches": md_table(batches, list(batches.columns), 10),
        "refused_records": md_table(refused, list(refused.columns), 20),
        "failed_batch_errors": md_table(failed, list(failed.columns), 10),
    }


def push_frame(
    context: AssetExecutionContext,
    ometria: OmetriaResource,
    records: Iterable[Encoded],
    to_send: int,
    check_name: str,
    what: str,
    extra_metadata: dict | None = None,
    client: OmetriaClient | None = None,
) -> MaterializeResult:
    """Push ``records``; fail the step (after reporting) when Ometria or the client refused any."""
    if client is None:
        with ometria.client() as own:
            return push_frame(context, ometria, records, to_send, check_name, what, extra_metadata, own)
    started = time.monotonic()
    try:
        report = client.push(records)
    except PushAborted as aborted:
        metadata = push_metadata(aborted.report, to_send, time.monotonic() - started, client)
        raise Failure(
            description=f"pushing {what} stopped after {aborted.report.sent} records were delivered: {aborted}",
            metadata=metadata,
        ) from None
    metadata = push_metadata(report, to_send, time.monotonic() - started, client)
    metadata.update(extra_metadata or {})
    if report.failed or report.refused:
        raise Failure(
            description=f"{len(report.failed)} batch(es) of {what} refused by Ometria and {len(report.refused)} "
            f"record(s) refused before sending; {report.sent} records were delivered",
            metadata=metadata,
        )
    context.log.info(f"pushed {report.sent} {what} in {report.requests} requests")
    return MaterializeResult(
        metadata=metadata,
        check_results=[
            AssetCheckResult(
                check_name=check_name,
                passed=report.rejected == 0,
                severity=AssetCheckSeverity.ERROR,
                description=f"Ometria accepted {report.accepted} and rejected {report.rejected} of {report.sent} {what}",
                metadata={"accepted": report.accepted, "rejected": report.rejected},
            )
        ],
    )
