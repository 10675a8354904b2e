"""Draining the event inbox into Ometria custom events.

Each pending draft becomes a record once its store and identity are resolved; a draft that cannot
(an invalid email, an unknown customer, a property Ometria cannot hold) is parked with the field and
the reason, and its neighbours go. An inbox row is marked sent as soon as Ometria accepted its batch
(two batches are in flight at once), so a crash resends at most those batches, with the same event ids.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import simplejson

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.models import Customer
from ct_ometria.commercetools.resolve import fetch_by_ids
from ct_ometria.config import MappingConfig
from ct_ometria.delivery import harvest_errors
from ct_ometria.events.custom import event_record
from ct_ometria.ledger.events import EventStore
from ct_ometria.ledger.store import Ledger, _aware
from ct_ometria.mapping.common import InvalidField
from ct_ometria.mapping.contacts import customer_id
from ct_ometria.mapping.stores import StoreContext
from ct_ometria.ometria.client import BatchResult, OmetriaClient, PushAborted

RECORD_TYPE = "custom_event"
STAGE = "event_inbox"


@dataclass
class Drain:
    read: int = 0
    sent: int = 0
    parked: int = 0
    requests: int = 0
    by_type: Counter = field(default_factory=Counter)
    lag_seconds: list[float] = field(default_factory=list)
    async_errors: int = 0
    aborted: str | None = None


def account_ids(client: CommercetoolsClient, ids: set[str], config: MappingConfig) -> dict[str, str]:
    """Ometria ``customer_id`` per commercetools customer id, by the configured strategy; customers
    that do not exist are left out."""
    found = {}
    for ct_id, document in fetch_by_ids(client, "customers", ids).items():
        try:
            found[ct_id] = customer_id(Customer.model_validate(document), config)
        except (InvalidField, ValueError):
            continue
    return found


def drain(
    ometria: OmetriaClient, store: EventStore, ledger: Ledger, ct: CommercetoolsClient, config: MappingConfig,
    stores: dict[str, StoreContext], *, sources: Sequence[str], up_to: int | None = None, limit: int = 10_000,
    run_id: str | None = None,
) -> Drain:  # fmt: skip
    result = Drain()
    rows = store.pending(limit, up_to, sources)
    result.read = len(rows)
    if not rows:
        return result
    accounts = account_ids(ct, {r["draft"]["customer"] for r in rows if r["draft"].get("customer")}, config)
    records, by_event, reasons, letters = [], {}, {}, []
    for row in rows:
        try:
            record = event_record(row["draft"], stores, accounts, config)
        except InvalidField as error:
            reasons[row["id"]] = str(error)
            letters.append(_letter(row, str(error)))
            continue
        records.append(record)
        by_event[record["id"]] = row
    now = dt.datetime.now(dt.timezone.utc)

    def accepted(batch: BatchResult) -> None:
        if batch.rejected:
            # Ometria does not say which of the batch it rejected: park them all, with the reason.
            reason = f"its batch was partly rejected by Ometria ({batch.rejected} of {len(batch.record_ids)})"
            for record_id in batch.record_ids:
                reasons[by_event[record_id]["id"]] = reason
                letters.append(_letter(by_event[record_id], reason))
            return
        store.mark_sent([by_event[i]["id"] for i in batch.record_ids], batch.request_id)
        ledger.record_batch(
            {"record_type": RECORD_TYPE, "record_count": len(batch.record_ids), "request_id": batch.request_id,
             "http_status": batch.status, "accepted": batch.accepted, "rejected": batch.rejected,
             "attempts": batch.attempts, "latency_ms": int(batch.latency_seconds * 1000), "run_id": run_id}
        )  # fmt: skip
        for record_id in batch.record_ids:
            row = by_event[record_id]
            result.by_type[row["event_type"]] += 1
            result.lag_seconds.append((now - _aware(row["occurred_at"])).total_seconds())

    try:
        report = ometria.push(records, on_batch=accepted) if records else None
    except PushAborted as aborted:
        report, result.aborted = aborted.report, str(aborted)
    if report is not None:
        result.sent, result.requests = report.sent, report.requests
        for failed in report.failed:
            for record_id in failed.record_ids:
                reasons[by_event[record_id]["id"]] = failed.reason
                letters.append(_letter(by_event[record_id], failed.reason))
        for refusal in report.refused:
            reasons[by_event[refusal.record_id]["id"]] = refusal.reason
            letters.append(_letter(by_event[refusal.record_id], refusal.reason))
        result.async_errors = harvest_errors(ometria, ledger, {b.request_id for b in report.batches if b.request_id}).parked
    if reasons:
        store.mark_parked(reasons)
        ledger.park(letters)
    result.parked = len(reasons)
    return result


def _letter(row: dict, reason: str) -> dict:
    return {"record_type": RECORD_TYPE, "record_id": row["event_id"], "stage": STAGE, "reason": reason,
            "payload": simplejson.dumps(row["draft"], use_decimal=True, sort_keys=True), "partition": None,
            "source_id": row.get("cart_id")}  # fmt: skip

