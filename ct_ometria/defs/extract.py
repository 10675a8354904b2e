"""The shared body of every extraction asset: read a window, resolve references, validate, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.frames import Entity, entity_rows, rows_frame
from ct_ometria.config import MappingConfig
from ct_ometria.defs.metadata import PREVIEW_ROWS, md_table, per_partition_counts, validation_check
from ct_ometria.defs.resources import CommercetoolsResource
from ct_ometria.validation import judge, valid_rows

Contexts = Callable[[CommercetoolsClient, list[dict[str, Any]]], dict[str, Any]]


def extract(
    context: AssetExecutionContext,
    commercetools: CommercetoolsResource,
    config: MappingConfig,
    resource: str,
    entity: Entity,
    check_name: str,
    *,
    contexts: Contexts | None = None,
    expand: tuple[str, ...] = (),
    preview: tuple[str, ...] = ("id", "version", "partition", "last_modified_at"),
):
    """Yield the frame of ``resource`` modified in the run's window, then its validation check."""
    window = context.partition_time_window
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with commercetools.client() as client:
        # Page by page: a page's references are resolved and its documents turned into rows (their
        # JSON text) before the next is read, so a run never holds its window's parsed documents.
        for page in client.modified_between(resource, window.start, window.end, limit=config.sync.page_size,
                                            expand=expand):  # fmt: skip
            resolved = contexts(client, page) if contexts and page else {}
            rows += entity_rows(page, entity, resolved)
        requests, retries = client.requests, client.retries
    read = len(rows)
    frame = rows_frame(rows, entity)
    del rows
    frame, result = judge(frame, config.sync.max_invalid_share, config.sync.invalid_records_tolerated)
    elapsed = time.monotonic() - started
    yield Output(
        frame,
        metadata={
            "dagster/row_count": MetadataValue.int(len(frame)),
            "read": MetadataValue.int(read),
            "valid": MetadataValue.int(result.total - result.invalid),
            "invalid": MetadataValue.int(result.invalid),
            "window": MetadataValue.text(f"{window.start.isoformat()} .. {window.end.isoformat()}"),
            "commercetools_requests": MetadataValue.int(requests),
            "commercetools_retries": MetadataValue.int(retries),
            "duration_seconds": MetadataValue.float(round(elapsed, 3)),
            "records_per_second": MetadataValue.float(round(read / elapsed, 1) if elapsed else 0.0),
            "per_partition": per_partition_counts(frame),
            "preview": md_table(frame, list(preview), PREVIEW_ROWS),
        },
    )
    yield validation_check(check_name, frame, result, entity.name.removeprefix("ct_"))


def mapped_output(
    frame: pd.DataFrame, upstream: pd.DataFrame, config: MappingConfig, check_name: str, what: str,
    preview: tuple[str, ...], started: float, extra: dict | None = None,
):  # fmt: skip
    """Yield a mapped frame with its counts, then its validation check."""
    frame, result = judge(frame, config.sync.max_invalid_share, config.sync.invalid_records_tolerated)
    yield Output(
        frame,
        metadata={
            "dagster/row_count": MetadataValue.int(len(frame)),
            "mapped": MetadataValue.int(result.total - result.invalid),
            "invalid": MetadataValue.int(result.invalid),
            "upstream_invalid": MetadataValue.int(len(upstream) - len(valid_rows(upstream))),
            "duration_seconds": MetadataValue.float(round(time.monotonic() - started, 3)),
            "per_partition": per_partition_counts(frame),
            "preview": md_table(frame, list(preview), PREVIEW_ROWS),
            **(extra or {}),
        },
    )
    yield validation_check(check_name, frame, result, what)
