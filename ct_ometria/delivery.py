"""Delivering records to Ometria through the ledger: send only what changed, record what Ometria
accepted batch by batch, park what it refused, and harvest its asynchronous validation errors.

Dagster-free, so the sync assets and the dead-letter replay share it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import simplejson

from ct_ometria.canonical import canonical_bytes
from ct_ometria.ledger.store import ASYNC_STAGE, Candidate, Ledger, Plan
from ct_ometria.mapping.common import looks_personal
from ct_ometria.ometria.client import MAX_RECORDS_PER_REQUEST, BatchResult, Encoded, OmetriaClient, PushReport
from ct_ometria.validation import REJECTION, invalid_rows, valid_rows

ERRORS_SEEN = "ometria_push_errors_seen"
ERRORS_REMEMBERED = 1000
# Ometria lists only its newest 100 errors.
ERRORS_LISTED = 100
# Bulk deliveries to one account push one at a time, in turns (``deliver``'s ``take_turn``): the
# ledger's lock of this name. A turn not granted within the patience is not waited for any longer:
# the delivery pushes beside the holder, both under the account's shared rate.
PUSH_TURN = "ometria_push_turn"
TURN_PATIENCE_SECONDS = 900.0


def _signature(error: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(error, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class Delivery:
    plan: Plan
    report: PushReport = field(default_factory=PushReport)
    parked: int = 0
    harvested: int = 0
    dry_run: bool = False
    # Ometria's error list was full of new errors: some of this delivery's may have fallen off it, so
    # its records that no listed error names were not taken as valid and go again next run.
    errors_overflowed: bool = False
    # Seconds spent waiting for the turn to push (another bulk delivery to the account was pushing).
    turn_waited: float = 0.0
    # The turn was not granted within TURN_PATIENCE_SECONDS: this delivery pushed beside the holder.
    turn_skipped: bool = False


@dataclass
class Harvest:
    parked: int = 0
    refused: set[tuple[str, str]] = field(default_factory=set)
    overflowed: bool = False


def without(body: bytes, fields: Iterable[str]) -> bytes:
    record = simplejson.loads(body, use_decimal=True)
    for name in fields:
        record.pop(name, None)
    return canonical_bytes(record)


def candidates(frame: pd.DataFrame, record_type: str, create_only: tuple[str, ...] = ()) -> list[Candidate]:
    """The valid rows of a mapped frame as ledger candidates; ``record`` is the canonical JSON to send.

    ``create_only`` fields (owned by Ometria after creation) do not count as a change: the hash is
    taken without them, and ``deliver`` sends them only with records Ometria has never received."""
    found = []
    for row in valid_rows(frame).itertuples(index=False):
        body = row.record.encode("utf-8")
        hashed = without(body, create_only) if create_only else body
        email = getattr(row, "email", None)
        found.append(
            Candidate(
                record_type=record_type, record_id=row.id, content_hash=hashlib.sha256(hashed).hexdigest(), body=body,
                source_id=row.source_id, source_version=None if pd.isna(row.version) else int(row.version),
                partition=row.partition,
                identity_hash=hashlib.sha256(email.encode()).hexdigest() if isinstance(email, str) else None,
            )
        )  # fmt: skip
    return found


def rejected(frame: pd.DataFrame, record_type: str, stage: str, payload: str | None = None) -> list[dict[str, Any]]:
    """Dead letters for a frame's rejected rows, with the reason (naming the field). A row set aside
    because its id looks like personal data is filed under its source's commercetools id, which
    listings show and replay reads; its letter resolves by that source once a fixed record is accepted."""
    source_column = "source_id" if "source_id" in frame else "id"
    letters = []
    for _, row in invalid_rows(frame).iterrows():
        source_id = str(row[source_column]) if row.get(source_column) is not None else None
        record_id = str(row["id"])
        if looks_personal(record_id):
            # Without a usable source id: a digest, so two such letters never merge into one.
            masked = f"masked:{hashlib.sha256(record_id.encode()).hexdigest()[:16]}"
            record_id = source_id if source_id and not looks_personal(source_id) else masked
        if source_id is not None and looks_personal(source_id):
            source_id = None  # nothing to resolve it by that could be shown
        letters.append({"record_type": record_type, "record_id": record_id, "stage": stage, "reason": row[REJECTION],
                        "payload": row[payload] if payload else None, "partition": row.get("partition"),
                        "source_id": source_id})  # fmt: skip
    return letters


def _audit(result: BatchResult, run_id: str | None) -> dict[str, Any]:
    return {
        "record_type": result.record_type, "record_count": len(result.record_ids), "request_id": result.request_id,
        "http_status": result.status, "accepted": result.accepted, "rejected": result.rejected,
        "attempts": result.attempts, "latency_ms": int(result.latency_seconds * 1000), "run_id": run_id,
    }  # fmt: skip


def deliver(
    client: OmetriaClient, ledger: Ledger, items: Iterable[Candidate], *, run_id: str | None = None,
    dry_run: bool = False, stage: str = "push", create_only: tuple[str, ...] = (), take_turn: bool = False,
) -> Delivery:  # fmt: skip
    """Plan against the ledger, push what is new or changed, record each accepted batch.

    ``take_turn``: a delivery of more than one request waits until no other bulk delivery to the
    account is pushing, then pushes alone at the account's full rate. Two backfill runs sharing the
    rate would otherwise push side by side at half the rate each, finish together, and then both
    spend their next extraction with nothing to push; in turns, one pushes while the other extracts
    and plans. Event deliveries do not take turns: they are small and must not wait behind a backfill."""
    plan = ledger.plan(items)
    if create_only:
        # Records Ometria already holds go without the fields it owns after creation (@merge keeps them).
        plan.changed = [replace(item, body=without(item.body, create_only)) for item in plan.changed]
        keys = {(item.record_type, item.record_id) for item in plan.identity_changed}
        plan.identity_changed = [item for item in plan.changed if (item.record_type, item.record_id) in keys]
    delivery = Delivery(plan=plan, dry_run=dry_run)
    if dry_run:
        return delivery
    # A record fixed back to exactly what Ometria holds needs no push, but its letters are resolved.
    ledger.resolve_sources([item.source_id for item in plan.unchanged if item.source_id])
    if not plan.to_send:
        return delivery
    by_key = {(item.record_type, item.record_id): item for item in plan.to_send}

    partly_rejected: list[Candidate] = []

    def accepted(result: BatchResult) -> None:
        items = [by_key[(result.record_type, record_id)] for record_id in result.record_ids]
        if result.rejected:
            # Ometria does not say which records it rejected: record none of them, so every one is
            # sent again next time, and park them until one of those sends is accepted whole.
            ledger.record_batch(_audit(result, run_id))
            partly_rejected.extend(items)
        else:
            ledger.record_accepted(items, result.request_id, _audit(result, run_id))

    # Ometria: an email change is re-pushed with the same id "in a separate payload" — one per request.
    alone = {(i.record_type, i.record_id) for i in plan.identity_changed}
    ordered = [i for i in plan.to_send if (i.record_type, i.record_id) not in alone]
    report = PushReport()
    with ExitStack() as turn:
        if take_turn and len(plan.to_send) > MAX_RECORDS_PER_REQUEST:
            _wait_for_turn(ledger, turn, delivery)
        for item in plan.identity_changed:
            merge_reports(report, client.push([Encoded(item.record_type, item.record_id, item.body)], on_batch=accepted))
        if ordered:
            merge_reports(report, client.push((Encoded(i.record_type, i.record_id, i.body) for i in ordered),
                                              on_batch=accepted))  # fmt: skip
    delivery.report = report
    letters = []
    for failed in report.failed:
        ledger.record_batch(
            {"record_type": failed.record_type, "record_count": len(failed.record_ids), "request_id": None,
             "http_status": failed.status or 0, "accepted": 0, "rejected": len(failed.record_ids), "attempts": 1,
             "latency_ms": 0, "run_id": run_id}
        )  # fmt: skip
        letters += [_letter(by_key[(failed.record_type, i)], stage, failed.reason) for i in failed.record_ids]
    letters += [_letter(by_key[(r.record_type, r.record_id)], stage, r.reason) for r in report.refused]
    letters += [_letter(item, stage, "its batch was partly rejected by Ometria (see the push errors); sent again next run")
                for item in partly_rejected]  # fmt: skip
    delivery.parked = ledger.park(letters) if letters else 0
    harvest = harvest_errors(client, ledger, {b.request_id for b in report.batches if b.request_id})
    delivery.harvested, delivery.errors_overflowed = harvest.parked, harvest.overflowed
    # Errors of earlier deliveries do not count: a record accepted now without a new error is valid again.
    for batch in report.batches:
        ok = [i for i in batch.record_ids if (batch.record_type, i) not in harvest.refused]
        if harvest.overflowed:
            ledger.forget(batch.record_type, ok)  # unknown: sent again next run rather than lost
        else:
            ledger.resolve_validated(batch.record_type, ok)
    return delivery


def _wait_for_turn(ledger: Ledger, turn: ExitStack, delivery: Delivery) -> None:
    """Hold the account's push turn in ``turn`` (released when it closes), or give up waiting."""
    began = time.monotonic()
    try:
        turn.enter_context(ledger.exclusive(PUSH_TURN, TURN_PATIENCE_SECONDS))
    except TimeoutError:
        delivery.turn_skipped = True
    delivery.turn_waited = time.monotonic() - began


def merge_reports(into: PushReport, report: PushReport) -> None:
    into.batches += report.batches
    into.refused += report.refused
    into.failed += report.failed


def _letter(item: Candidate, stage: str, reason: str) -> dict[str, Any]:
    return {"record_type": item.record_type, "record_id": item.record_id, "stage": stage, "reason": reason,
            "payload": item.body.decode("utf-8"), "partition": item.partition, "source_id": item.source_id}  # fmt: skip


def harvest_errors(client: OmetriaClient, ledger: Ledger, request_ids: set[str]) -> Harvest:
    """Park Ometria's asynchronous validation errors for this delivery's requests, and forget those
    records in the ledger so they are sent again once fixed. The harvest names the refused records,
    and says whether the list was too full of new errors to be sure it holds all of this delivery's.

    Ometria's ``GET /v2/push/_errors`` lists the newest 100 errors as ``error_path`` and
    ``error_message``; the sandbox also names the record and the request. Errors that name no
    request are kept too: nothing Ometria refused goes unnoticed.
    """
    if not request_ids:
        return Harvest()
    # Ometria lists its newest 100 errors, old ones included; the ledger remembers which it has seen.
    seen = set(json.loads(ledger.cursor(ERRORS_SEEN) or "[]"))
    listed = client.push_errors()
    # Only this delivery's errors (and those naming no request) are taken: another run pushing at the
    # same time harvests its own, so none is marked seen here without being parked.
    mine = [(error, _signature(error)) for error in listed
            if error.get("request_id") is None or error["request_id"] in request_ids]  # fmt: skip
    errors = [error for error, signature in mine if signature not in seen]
    # A full list none of whose entries was seen before may have pushed this delivery's older errors off.
    overflowed = len(listed) >= ERRORS_LISTED and not any(_signature(error) in seen for error in listed)
    ledger.set_cursor(ERRORS_SEEN, json.dumps(sorted({signature for _, signature in mine} | seen)[-ERRORS_REMEMBERED:]))
    named: dict[str, list[str]] = {}
    for error in errors:
        if error.get("record_id") and error.get("request_id") in request_ids:
            named.setdefault(str(error.get("record_type")), []).append(str(error["record_id"]))
    sources = {(t, i): s for t, ids in named.items() for i, s in ledger.source_ids(t, ids).items()}
    letters, forget, refused = [], {}, set()
    for error in errors:
        reason = f"{error.get('error_path', 'root')}: {error.get('error_message', 'refused')}"
        record_type = str(error.get("record_type") or "unknown")
        record_id = str(error.get("record_id") or "unknown:" + hashlib.sha256(reason.encode()).hexdigest()[:12])
        letters.append({"record_type": record_type, "record_id": record_id, "stage": ASYNC_STAGE, "reason": reason,
                        "source_id": sources.get((record_type, record_id))})  # fmt: skip
        if error.get("record_id"):
            forget.setdefault(record_type, []).append(record_id)
            refused.add((record_type, record_id))
    for record_type, ids in forget.items():
        ledger.forget(record_type, ids)
    return Harvest(ledger.park(letters) if letters else 0, refused, overflowed)
