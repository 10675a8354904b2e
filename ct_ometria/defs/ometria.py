"""Mapping and sync assets: commercetools frames become Ometria records, then reach Ometria."""

import time

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)

from ct_ometria.defs.metadata import PREVIEW_ROWS, md_table, per_partition_counts, validation_check
from ct_ometria.defs.partitions import daily_partitions
from ct_ometria.defs.resources import MappingConfigResource, OmetriaResource
from ct_ometria.mapping.frames import contacts_frame
from ct_ometria.ometria.client import Encoded, PushReport
from ct_ometria.validation import valid_rows, verdict

CONTACTS_VALID = "contacts_valid"
CONTACTS_ACCEPTED = "contacts_accepted"


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            CONTACTS_VALID,
            asset="ometria_contacts",
            blocking=True,
            description="Every contact has a PII-free id and customer_id, a trimmed lower-case valid email "
            "and fits Ometria's 60 KB; fails when invalid contacts exceed the configured tolerance.",
        )
    ],
    group_name="ometria",
    kinds={"pandas", "parquet"},
    io_manager_key="frames_io_manager",
)
def ometria_contacts(context: AssetExecutionContext, ct_customers: pd.DataFrame, mapping: MappingConfigResource):
    """Ometria contact records mapped from the valid customers of the partition(s). ``record`` holds
    the exact JSON that will be pushed: contact id = commercetools customer id (never personal
    data), ``customer_id`` by the configured strategy, email trimmed and lower-cased, store ids
    from the mapping config, ``@merge`` so fields not sent keep Ometria's values."""
    config = mapping.load()
    frame = contacts_frame(ct_customers, config)
    result = verdict(frame, config.sync.max_invalid_share, config.sync.invalid_records_tolerated)
    yield Output(
        frame,
        metadata={
            "dagster/row_count": MetadataValue.int(len(frame)),
            "mapped": MetadataValue.int(result.total - result.invalid),
            "invalid": MetadataValue.int(result.invalid),
            "upstream_invalid": MetadataValue.int(len(ct_customers) - len(valid_rows(ct_customers))),
            "per_partition": per_partition_counts(frame),
            "preview": md_table(frame, ["id", "customer_id", "partition", "record_bytes"], PREVIEW_ROWS),
        },
    )
    yield validation_check(CONTACTS_VALID, frame, result, "contacts")


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            CONTACTS_ACCEPTED,
            asset="ometria_contacts_sync",
            description="Ometria accepted every batch and rejected no record.",
        )
    ],
    pool="ometria",
    group_name="ometria",
    kinds={"ometria"},
)
def ometria_contacts_sync(
    context: AssetExecutionContext, ometria_contacts: pd.DataFrame, ometria: OmetriaResource
) -> MaterializeResult:
    """Pushes the valid contact records to Ometria's ``POST /v2/push``: batches of at most 100, one
    request every 1/8 s (the account's rate), 429 and 5xx retried honouring ``Retry-After``.
    Records set aside by the checks upstream are not sent."""
    records = valid_rows(ometria_contacts)
    started = time.monotonic()
    with ometria.client() as client:
        report = client.push(
            Encoded("contact", row.id, row.record.encode("utf-8")) for row in records.itertuples(index=False)
        )
        throttled, retries = client.throttled, client.retries
    elapsed = time.monotonic() - started
    metadata = push_metadata(report, len(records), elapsed, throttled, retries)
    if report.failed or report.refused:
        raise Failure(
            description=f"{len(report.failed)} batch(es) refused by Ometria and {len(report.refused)} record(s) "
            f"refused before sending; {report.sent} records were delivered",
            metadata=metadata,
        )
    context.log.info(f"pushed {report.sent} contacts in {report.requests} requests ({elapsed:.1f}s)")
    return MaterializeResult(
        metadata=metadata,
        check_results=[
            AssetCheckResult(
                check_name=CONTACTS_ACCEPTED,
                passed=report.rejected == 0,
                severity=AssetCheckSeverity.ERROR,
                description=f"Ometria accepted {report.accepted} and rejected {report.rejected} of {report.sent} records",
                metadata={"accepted": report.accepted, "rejected": report.rejected},
            )
        ],
    )


def push_metadata(report: PushReport, to_send: int, elapsed: float, throttled: int, retries: int) -> dict:
    batches = pd.DataFrame(
        [
            {"request_id": b.request_id, "records": len(b.record_ids), "status": b.status, "attempts": b.attempts}
            for b in report.batches
        ],
        columns=["request_id", "records", "status", "attempts"],
    )
    return {
        "to_send": MetadataValue.int(to_send),
        "pushed": MetadataValue.int(report.sent),
        "accepted": MetadataValue.int(report.accepted),
        "rejected": MetadataValue.int(report.rejected),
        "refused_before_sending": MetadataValue.int(len(report.refused)),
        "failed_batches": MetadataValue.int(len(report.failed)),
        "requests": MetadataValue.int(report.requests),
        "retries": MetadataValue.int(retries),
        "throttled_429": MetadataValue.int(throttled),
        "duration_seconds": MetadataValue.float(round(elapsed, 3)),
        "records_per_second": MetadataValue.float(round(report.sent / elapsed, 1) if elapsed else 0.0),
        "batches": md_table(batches, list(batches.columns), 10),
        "refused_records": md_table(
            pd.DataFrame([(r.record_type, r.record_id, r.reason) for r in report.refused], columns=["type", "id", "reason"]),
            ["type", "id", "reason"],
            20,
        ),
        "failed_batch_errors": md_table(
            pd.DataFrame([(ids[0], len(ids), error) for ids, error in report.failed], columns=["first_id", "records", "error"]),
            ["first_id", "records", "error"],
            10,
        ),
    }
