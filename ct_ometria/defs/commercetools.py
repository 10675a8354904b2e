"""Extraction assets: commercetools documents for a window of ``lastModifiedAt``."""

import time

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MetadataValue,
    Output,
    asset,
)

from ct_ometria.commercetools.frames import customers_frame
from ct_ometria.defs.metadata import PREVIEW_ROWS, md_table, per_partition_counts, validation_check
from ct_ometria.defs.partitions import daily_partitions
from ct_ometria.defs.resources import CommercetoolsResource, MappingConfigResource
from ct_ometria.validation import verdict

CUSTOMERS_VALID = "customers_valid"


@asset(
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            CUSTOMERS_VALID,
            asset="ct_customers",
            blocking=True,
            description="Every customer has an id, a version, a valid email and timestamps; "
            "fails when invalid customers exceed the configured tolerance.",
        )
    ],
    pool="commercetools",
    group_name="commercetools",
    kinds={"commercetools", "pandas", "parquet"},
    io_manager_key="frames_io_manager",
)
def ct_customers(context: AssetExecutionContext, commercetools: CommercetoolsResource, mapping: MappingConfigResource):
    """Customers whose ``lastModifiedAt`` falls in the partition's day(s), read from commercetools
    by keyset paging (``sort=id asc``, ``where=id > :last``, 500 per page). Deduplicated on id,
    keeping the highest version. Each row keeps its raw document; rows that fail validation keep
    their reason in ``rejection`` and stop here."""
    config = mapping.load()
    window = context.partition_time_window
    started = time.monotonic()
    with commercetools.client() as client:
        documents = [
            document
            for page in client.modified_between("customers", window.start, window.end, limit=config.sync.page_size)
            for document in page
        ]
        requests, retries = client.requests, client.retries
    frame = customers_frame(documents)
    result = verdict(frame, config.sync.max_invalid_share, config.sync.invalid_records_tolerated)
    elapsed = time.monotonic() - started
    yield Output(
        frame,
        metadata={
            "dagster/row_count": MetadataValue.int(len(frame)),
            "read": MetadataValue.int(len(documents)),
            "valid": MetadataValue.int(result.total - result.invalid),
            "invalid": MetadataValue.int(result.invalid),
            "window": MetadataValue.text(f"{window.start.isoformat()} .. {window.end.isoformat()}"),
            "commercetools_requests": MetadataValue.int(requests),
            "commercetools_retries": MetadataValue.int(retries),
            "duration_seconds": MetadataValue.float(round(elapsed, 3)),
            "records_per_second": MetadataValue.float(round(len(documents) / elapsed, 1) if elapsed else 0.0),
            "per_partition": per_partition_counts(frame),
            "preview": md_table(frame, ["id", "version", "partition", "last_modified_at"], PREVIEW_ROWS),
        },
    )
    yield validation_check(CUSTOMERS_VALID, frame, result, "customers")
