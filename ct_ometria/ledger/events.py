"""The ledger's event tables: commercetools messages already acted on, the newest resource version
acted on, the behavioural-event inbox, cart snapshots and queued deletion requests.

Each write that must not be half-done is one transaction; inserts that may repeat (a message
delivered twice, a storefront retrying a post) are idempotent by their natural key.
"""

from __future__ import annotations

import datetime as dt
import simplejson as json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from ct_ometria.commercetools.client import parse_ct_datetime
from ct_ometria.ledger.store import CHUNK, Ledger, now
from ct_ometria.ledger.tables import (
    cart_snapshots,
    deletion_requests,
    event_inbox,
    processed_messages,
    resource_versions,
)

PENDING, HELD, SENT, PARKED = "pending", "held", "sent", "parked"


@dataclass(frozen=True)
class InboxEvent:
    """One behavioural event as received: ``draft`` is the event before identity and store are
    resolved into an Ometria record (see ``ct_ometria.events.custom``)."""

    event_id: str
    source: str
    event_type: str
    occurred_at: dt.datetime
    draft: dict[str, Any]
    cart_id: str | None = None
    held: bool = False


class EventStore:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.engine = ledger.engine

    # ---- messages ----------------------------------------------------------------------------

    def processed(self, message_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as connection:
            for start in range(0, len(message_ids), CHUNK):
                chunk = list(message_ids[start : start + CHUNK])
                query = select(processed_messages.c.message_id).where(processed_messages.c.message_id.in_(chunk))
                found.update(row.message_id for row in connection.execute(query))
        return found

    def versions(self, resource_type: str, resource_ids: Sequence[str]) -> dict[str, int]:
        columns = resource_versions.c
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(resource_ids), CHUNK):
                chunk = list(resource_ids[start : start + CHUNK])
                query = select(columns.resource_id, columns.resource_version).where(
                    and_(columns.resource_type == resource_type, columns.resource_id.in_(chunk))
                )
                found.update({row.resource_id: row.resource_version for row in connection.execute(query)})
        return found

    def mark_processed(
        self, messages: Iterable[dict[str, Any]], versions: dict[tuple[str, str], tuple[int, int | None]]
    ) -> None:
        """One transaction: the messages acted on, and the newest version each resource's effect
        was computed from (a version only ever grows)."""
        moment = now()
        rows = [
            {"message_id": m["id"], "resource_type": m["resource"]["typeId"], "resource_id": m["resource"]["id"],
             "sequence_number": m.get("sequenceNumber"), "resource_version": m.get("resourceVersion"),
             "message_type": m["type"], "created_at": parse_ct_datetime(m["createdAt"]), "processed_at": moment}
            for m in messages
        ]  # fmt: skip
        with self.engine.begin() as connection:
            if rows:
                statement = self.ledger._insert(processed_messages).on_conflict_do_nothing(index_elements=["message_id"])
                connection.execute(statement, rows)
            if versions:
                statement = self.ledger._insert(resource_versions)
                statement = statement.on_conflict_do_update(
                    index_elements=["resource_type", "resource_id"],
                    set_={"resource_version": statement.excluded.resource_version,
                          "sequence_number": statement.excluded.sequence_number,
                          "updated_at": statement.excluded.updated_at},
                    where=resource_versions.c.resource_version < statement.excluded.resource_version,
                )  # fmt: skip
                connection.execute(
                    statement,
                    [{"resource_type": t, "resource_id": i, "resource_version": v, "sequence_number": s,
                      "updated_at": moment} for (t, i), (v, s) in versions.items()],
                )  # fmt: skip

    def prune_processed(self, before: dt.datetime) -> int:
        """Forget message ids older than ``before`` (the project's retention: they cannot come back)."""
        with self.engine.begin() as connection:
            return connection.execute(delete(processed_messages).where(processed_messages.c.created_at < before)).rowcount

    # ---- inbox -------------------------------------------------------------------------------

    def add_events(self, events: Sequence[InboxEvent]) -> int:
        """Store events; one already stored (same ``event_id``) is ignored. Returns how many were new."""
        if not events:
            return 0
        statement = self.ledger._insert(event_inbox).on_conflict_do_nothing(index_elements=["event_id"])
        with self.engine.begin() as connection:
            # Row by row: an executemany's rowcount is not reliable across drivers.
            return sum(connection.execute(statement, row).rowcount for row in _inbox_rows(events))

    def pending(self, limit: int, up_to: int | None = None, sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
        query = select(event_inbox).where(event_inbox.c.status == PENDING)
        if up_to is not None:
            query = query.where(event_inbox.c.id <= up_to)
        if sources:
            query = query.where(event_inbox.c.source.in_(list(sources)))
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(event_inbox.c.id).limit(limit))
            return [{**dict(row._mapping), "draft": json.loads(row.record, use_decimal=True)} for row in rows]

    def newest_pending(self, sources: Sequence[str] | None = None) -> int | None:
        query = select(func.max(event_inbox.c.id)).where(event_inbox.c.status == PENDING)
        if sources:
            query = query.where(event_inbox.c.source.in_(list(sources)))
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def mark_sent(self, ids: Sequence[int], request_id: str | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(event_inbox).where(event_inbox.c.id.in_(list(ids)))
                .values(status=SENT, sent_at=now(), request_id=request_id, reason=None)
            )  # fmt: skip

    def mark_parked(self, reasons: dict[int, str]) -> None:
        with self.engine.begin() as connection:
            for event_id, reason in reasons.items():
                connection.execute(update(event_inbox).where(event_inbox.c.id == event_id).values(status=PARKED, reason=reason))

    def release_held(self, cart_id: str, identity: dict[str, str | None]) -> int:
        """A cart's held events learn its identity and become pending."""
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(event_inbox.c.id, event_inbox.c.record)
                .where(and_(event_inbox.c.cart_id == cart_id, event_inbox.c.status == HELD))
            ).all()  # fmt: skip
            for row in rows:
                draft = {**json.loads(row.record, use_decimal=True), **{k: v for k, v in identity.items() if v}}
                connection.execute(
                    update(event_inbox).where(event_inbox.c.id == row.id)
                    .values(record=json.dumps(draft, ensure_ascii=False, sort_keys=True, use_decimal=True), status=PENDING)
                )  # fmt: skip
        return len(rows)

    def counts(self, sources: Sequence[str] | None = None) -> dict[str, int]:
        query = select(event_inbox.c.status, func.count()).group_by(event_inbox.c.status)
        if sources:
            query = query.where(event_inbox.c.source.in_(list(sources)))
        with self.engine.connect() as connection:
            return {row[0]: row[1] for row in connection.execute(query)}

    def events(self, status: str | None = None) -> list[dict[str, Any]]:
        query = select(event_inbox).order_by(event_inbox.c.id)
        if status:
            query = query.where(event_inbox.c.status == status)
        with self.engine.connect() as connection:
            return [{**dict(row._mapping), "draft": json.loads(row.record, use_decimal=True)} for row in connection.execute(query)]

    # ---- carts -------------------------------------------------------------------------------

    def snapshots(self, cart_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(cart_ids), CHUNK):
                chunk = list(cart_ids[start : start + CHUNK])
                for row in connection.execute(select(cart_snapshots).where(cart_snapshots.c.cart_id.in_(chunk))):
                    found[row.cart_id] = {"version": row.version, "lines": json.loads(row.lines),
                                          "checkout_started": row.checkout_started}  # fmt: skip
        return found

    def save_cart(self, cart_id: str, version: int, lines: dict[str, Any], checkout_started: bool,
                  events: Sequence[InboxEvent]) -> None:  # fmt: skip
        """One transaction: the cart's new snapshot and the events its change produced, so a crash
        never loses an event nor emits one twice."""
        moment = now()
        statement = self.ledger._insert(cart_snapshots).values(
            cart_id=cart_id, version=version, lines=json.dumps(lines, sort_keys=True),
            checkout_started=checkout_started, updated_at=moment,
        )  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=["cart_id"],
            set_={name: statement.excluded[name] for name in ("version", "lines", "checkout_started", "updated_at")},
        )
        rows = _inbox_rows(events)
        with self.engine.begin() as connection:
            connection.execute(statement)
            if rows:
                connection.execute(self.ledger._insert(event_inbox).on_conflict_do_nothing(index_elements=["event_id"]), rows)

    # ---- deletion requests -------------------------------------------------------------------

    def queue_deletion(self, customer_id: str, identity_hash: str | None, status: str = PENDING,
                       reason: str | None = None) -> bool:  # fmt: skip
        """Queue one request per customer; False when that customer was already queued."""
        statement = self.ledger._insert(deletion_requests).values(
            customer_id=customer_id, identity_hash=identity_hash, status=status, queued_at=now(), reason=reason
        ).on_conflict_do_nothing(index_elements=["customer_id"])  # fmt: skip
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def pending_deletions(self, limit: int) -> list[dict[str, Any]]:
        query = select(deletion_requests).where(deletion_requests.c.status == PENDING)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(deletion_requests.c.queued_at).limit(limit))
            return [dict(row._mapping) for row in rows]

    def mark_deletion(self, customer_id: str, status: str, request_id: str | None = None, reason: str | None = None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(deletion_requests).where(deletion_requests.c.customer_id == customer_id)
                .values(status=status, request_id=request_id, reason=reason, sent_at=now() if status == SENT else None)
            )  # fmt: skip

    def deletions_sent_since(self, moment: dt.datetime) -> int:
        query = select(func.count()).select_from(deletion_requests).where(
            and_(deletion_requests.c.status == SENT, deletion_requests.c.sent_at >= moment)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def deletions(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(deletion_requests))]


def _inbox_rows(events: Sequence[InboxEvent]) -> list[dict[str, Any]]:
    moment = now()
    return [
        {"event_id": e.event_id, "source": e.source, "event_type": e.event_type, "occurred_at": e.occurred_at,
         "record": json.dumps(e.draft, ensure_ascii=False, sort_keys=True, use_decimal=True), "cart_id": e.cart_id,
         "status": HELD if e.held else PENDING, "received_at": moment}
        for e in events
    ]  # fmt: skip


