"""The shared body of every sync asset: park what checks set aside, deliver through the ledger,
report, and tell the truth (a refused batch fails the step after everything else was delivered)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import simplejson

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from ct_ometria.canonical import canonical_json
from ct_ometria.defs.metadata import md_table
from ct_ometria.defs.resources import LedgerResource, OmetriaResource
from ct_ometria.delivery import TURN_PATIENCE_SECONDS, Delivery, candidates, deliver, rejected
from ct_ometria.ledger.store import Ledger, Plan
from ct_ometria.ometria.client import OmetriaClient, PushAborted

SAMPLE_PAYLOADS = 3


class PushConfig(Config):
    """``dry_run``: report what would be sent (new, changed, unchanged, invalid, sample payloads)
    without pushing and without touching the ledger."""

    dry_run: bool = False


# (frame, record type, stage, payload column) of an upstream frame whose rejected rows are parked.
Upstream = tuple[pd.DataFrame, str, str, str | None]


def _letters_table(ledger: Ledger, record_type: str) -> MetadataValue:
    letters = pd.DataFrame(ledger.dead_letters(record_type))
    if letters.empty:
        return MetadataValue.md("_none_")
    return md_table(letters, ["record_id", "stage", "reason", "attempts", "last_seen"], 20)


PERSONAL_FIELDS = {"email", "firstname", "lastname", "middlename", "prefix", "phone_number", "date_of_birth",
                   "identity_email", "postcode", "city"}  # fmt: skip


def redacted(body: bytes) -> str:
    """A sample payload with personal fields masked: run metadata is not the place for them."""
    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "***" if k in PERSONAL_FIELDS and v is not None else mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(item) for item in value]
        return value

    return canonical_json(mask(simplejson.loads(body, use_decimal=True)))


def plan_by_partition(plan: Plan) -> MetadataValue:
    """Per day of the run: how many records were new, changed or unchanged against the ledger."""
    counts: dict[str, Counter] = {}
    for label, items in (("new", plan.new), ("changed", plan.changed), ("unchanged", plan.unchanged)):
        for item in items:
            counts.setdefault(item.partition or "unknown", Counter())[label] += 1
    frame = pd.DataFrame([{"partition": day, "new": c["new"], "changed": c["changed"], "unchanged": c["unchanged"]}
                          for day, c in sorted(counts.items())], columns=["partition", "new", "changed", "unchanged"])  # fmt: skip
    return md_table(frame, list(frame.columns), limit=62)


def delivery_metadata(delivery: Delivery, client: OmetriaClient, elapsed: float, parked_invalid: int) -> dict:
    plan, report = delivery.plan, delivery.report
    batches = pd.DataFrame(
        [(b.request_id, len(b.record_ids), b.status, b.attempts) for b in report.batches],
        columns=["request_id", "records", "status", "attempts"],
    )
    metadata = {
        "dry_run": MetadataValue.bool(delivery.dry_run),
        "new": MetadataValue.int(len(plan.new)),
        "changed": MetadataValue.int(len(plan.changed)),
        "unchanged": MetadataValue.int(len(plan.unchanged)),
        "stale_skipped": MetadataValue.int(len(plan.stale)),
        "invalid": MetadataValue.int(parked_invalid),
        "pushed": MetadataValue.int(report.sent),
        "accepted": MetadataValue.int(report.accepted),
        "rejected": MetadataValue.int(report.rejected),
        "refused_before_sending": MetadataValue.int(len(report.refused)),
        "failed_batches": MetadataValue.int(len(report.failed)),
        "async_errors_parked": MetadataValue.int(delivery.harvested),
        "errors_list_overflowed": MetadataValue.bool(delivery.errors_overflowed),
        "requests": MetadataValue.int(report.requests),
        "retries": MetadataValue.int(client.retries),
        "throttled_429": MetadataValue.int(client.throttled),
        "duration_seconds": MetadataValue.float(round(elapsed, 3)),
        # Of which waiting while another run pushed to the account (deliveries push in turns).
        "turn_wait_seconds": MetadataValue.float(round(delivery.turn_waited, 3)),
        "records_per_second": MetadataValue.float(round(report.sent / elapsed, 1) if elapsed else 0.0),
        "batches": md_table(batches, list(batches.columns), 10),
        # A run covering several days shows the same totals on each day's partition: this says which day held what.
        "per_partition": plan_by_partition(plan),
    }
    if delivery.dry_run:
        samples = [redacted(item.body) for item in plan.to_send[:SAMPLE_PAYLOADS]]
        metadata["sample_payloads"] = MetadataValue.md("\n\n".join(f"```json\n{s}\n```" for s in samples) or "_none_")
        metadata["would_send"] = MetadataValue.int(len(plan.to_send))
    return metadata


def sync_records(
    context: AssetExecutionContext,
    config: PushConfig,
    ometria: OmetriaResource,
    ledger_resource: LedgerResource,
    frame: pd.DataFrame,
    record_type: str,
    check_name: str,
    what: str,
    upstream: Sequence[Upstream] = (),
    client: OmetriaClient | None = None,
    extra_metadata: dict | None = None,
    create_only: tuple[str, ...] = (),
):
    """Park rejected rows, deliver the valid ones through the ledger, and report."""
    if client is None:
        with ometria.client() as own:
            yield from sync_records(context, config, ometria, ledger_resource, frame, record_type, check_name, what,
                                    upstream, own, extra_metadata, create_only)  # fmt: skip
        return
    ledger = ledger_resource.open()
    started = time.monotonic()
    letters = rejected(frame, record_type, context.asset_key.to_user_string().removesuffix("_sync"))
    for up_frame, up_type, stage, payload in upstream:
        letters += rejected(up_frame, up_type, stage, payload)
    parked_invalid = len(letters)
    if letters and not config.dry_run:
        ledger.park(letters)
    try:
        delivery = deliver(client, ledger, candidates(frame, record_type, create_only), run_id=context.run.run_id,
                           dry_run=config.dry_run, stage=context.asset_key.to_user_string(),
                           create_only=create_only, take_turn=True)  # fmt: skip
    except PushAborted as aborted:
        delivery = Delivery(plan=ledger.plan([]), report=aborted.report)
        metadata = delivery_metadata(delivery, client, time.monotonic() - started, parked_invalid)
        raise Failure(
            description=f"pushing {what} stopped after {aborted.report.sent} records were delivered (and recorded "
            f"in the ledger): {aborted}",
            metadata=metadata,
        ) from None
    metadata = delivery_metadata(delivery, client, time.monotonic() - started, parked_invalid)
    metadata.update(extra_metadata or {})
    if config.dry_run:
        # The materialization says `dry_run: true` and its check says nothing was pushed. It still
        # materializes so the run's later syncs execute and report too; what is sent is decided by
        # the ledger, never by materialization status, so the next real run sends all of it.
        context.log.info(f"dry run: would send {len(delivery.plan.to_send)} {what}")
        yield MaterializeResult(
            metadata=metadata,
            check_results=[
                AssetCheckResult(
                    check_name=check_name, passed=True, severity=AssetCheckSeverity.WARN,
                    description=f"dry run: nothing was pushed; {len(delivery.plan.to_send)} {what} would be sent",
                    metadata={"dry_run": True},
                )
            ],
        )  # fmt: skip
        return
    metadata["open_dead_letters"] = MetadataValue.int(ledger.open_counts().get(record_type, 0))
    metadata["dead_letters"] = _letters_table(ledger, record_type)
    report = delivery.report
    if report.failed or report.refused:
        raise Failure(
            description=f"{len(report.failed)} batch(es) of {what} refused by Ometria and {len(report.refused)} "
            f"record(s) refused before sending, all parked as dead letters; {report.sent} records were delivered",
            metadata=metadata,
        )
    if delivery.turn_skipped:
        context.log.warning(f"another run held the turn to push to this Ometria account for over {TURN_PATIENCE_SECONDS:.0f} s: "
                            f"{what} were pushed beside it, both under the account's shared rate")  # fmt: skip
    context.log.info(
        f"{what}: {len(delivery.plan.new)} new, {len(delivery.plan.changed)} changed, "
        f"{len(delivery.plan.unchanged)} unchanged; pushed {report.sent} in {report.requests} requests"
        + (f" after {delivery.turn_waited:.1f} s waiting for the turn to push" if delivery.turn_waited >= 1 else "")
    )
    yield MaterializeResult(
        metadata=metadata,
        check_results=[
            AssetCheckResult(
                check_name=check_name,
                passed=report.rejected == 0 and delivery.harvested == 0 and not delivery.errors_overflowed,
                severity=AssetCheckSeverity.ERROR,
                description=f"Ometria accepted {report.accepted} and rejected {report.rejected} of {report.sent} "
                f"{what}; {delivery.harvested} asynchronous validation error(s) parked"
                + ("; Ometria's error list overflowed, so the records it does not name go again next run"
                   if delivery.errors_overflowed else ""),
                metadata={"accepted": report.accepted, "rejected": report.rejected, "async_errors": delivery.harvested},
            )
        ],
    )
