"""commercetools Messages as work to do.

Messages arrive at least once and in no guaranteed order. A plan therefore:
- drops messages whose id was already acted on (the ledger remembers them);
- groups the rest by resource and orders each group by ``sequenceNumber``;
- drops a message whose ``resourceVersion`` is not newer than the version the last effect for that
  resource was computed from (an older state must never overwrite a newer one);
- notes gaps in a resource's sequence numbers (a message not visible yet, or expired).

Effects do not replay message payloads: each affected resource is read again and mapped the way the
daily sync maps it, so a message delivered twice, late or out of order still yields the resource's
current state, and the ledger's content hash makes a repeat send nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ct_ometria.commercetools.client import CommercetoolsClient, ct_datetime
from ct_ometria.ledger.events import EventStore

# Message type -> what it changes in Ometria.
CONTACT, ORDER, PAYMENT, PRODUCT, CUSTOMER_DELETED, PRODUCT_DELETED = (
    "contact", "order", "payment", "product", "customer_deleted", "product_deleted",
)  # fmt: skip
EFFECTS = {
    "CustomerCreated": CONTACT,
    "CustomerEmailChanged": CONTACT,
    "CustomerFirstNameSet": CONTACT,
    "CustomerLastNameSet": CONTACT,
    "CustomerCustomFieldAdded": CONTACT,
    "CustomerCustomFieldChanged": CONTACT,
    "CustomerCustomFieldRemoved": CONTACT,
    "CustomerCustomTypeSet": CONTACT,
    "CustomerCustomTypeRemoved": CONTACT,
    "CustomerGroupSet": CONTACT,
    "CustomerDeleted": CUSTOMER_DELETED,
    "OrderCreated": ORDER,
    "OrderImported": ORDER,
    "OrderStateChanged": ORDER,
    "OrderShipmentStateChanged": ORDER,
    "OrderPaymentStateChanged": ORDER,
    "ReturnInfoAdded": ORDER,
    "ReturnInfoSet": ORDER,
    "OrderReturnItemPaymentStateChanged": ORDER,
    "OrderReturnShipmentStateChanged": ORDER,
    "OrderCustomerEmailSet": ORDER,
    "OrderCustomerSet": ORDER,
    "PaymentTransactionAdded": PAYMENT,
    "PaymentTransactionStateChanged": PAYMENT,
    "ProductCreated": PRODUCT,
    "ProductPublished": PRODUCT,
    "ProductUnpublished": PRODUCT,
    "ProductDeleted": PRODUCT_DELETED,
}
MESSAGE_TYPES = tuple(sorted(EFFECTS))


def read_messages(
    client: CommercetoolsClient, since: dt.datetime, until: dt.datetime | None = None, max_pages: int | None = None
) -> list[dict[str, Any]]:
    """Every message of a handled type created in [since, until) (or the first ``max_pages`` pages
    of them), oldest first."""
    where = "createdAt >= :since and type in :types"
    variables: dict[str, str] = {"since": ct_datetime(since)}
    if until is not None:
        where += " and createdAt < :until"
        variables["until"] = ct_datetime(until)
    found: list[dict[str, Any]] = []
    # Keyset paging by id within the window, as every other read.
    types = [("var.types", name) for name in MESSAGE_TYPES]
    for number, page in enumerate(client.pages("messages", where=where, variables=variables, extra=types), start=1):
        found += page
        if max_pages is not None and number >= max_pages:
            break
    return sorted(found, key=lambda m: (m["createdAt"], m["resource"]["id"], m.get("sequenceNumber") or 0))


@dataclass
class MessagePlan:
    """What a window of messages asks for, after dedupe and the version rule."""

    read: int = 0
    duplicates: int = 0
    stale: int = 0
    gaps: list[str] = field(default_factory=list)
    # resource type -> resource id -> the newest (version, sequence number) among its new messages
    resources: dict[str, dict[str, tuple[int, int | None]]] = field(default_factory=lambda: defaultdict(dict))
    # effect kind -> resource ids, in first-seen order
    effects: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    messages: list[dict[str, Any]] = field(default_factory=list)  # the new messages, acted on or stale
    by_type: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def acted_on(self) -> int:
        return len(self.messages) - self.stale


def plan_messages(messages: Iterable[dict[str, Any]], store: EventStore) -> MessagePlan:
    plan = MessagePlan()
    unique: dict[str, dict[str, Any]] = {}
    for message in messages:
        plan.read += 1
        if message["id"] in unique:
            plan.duplicates += 1
            continue
        unique[message["id"]] = message
    done = store.processed(list(unique))
    plan.duplicates += len(done)
    fresh = [m for i, m in unique.items() if i not in done]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for message in fresh:
        groups[(message["resource"]["typeId"], message["resource"]["id"])].append(message)
    known: dict[str, dict[str, int]] = {}
    for resource_type in {t for t, _ in groups}:
        known[resource_type] = store.versions(resource_type, [i for t, i in groups if t == resource_type])
    for (resource_type, resource_id), group in groups.items():
        group.sort(key=lambda m: (m.get("sequenceNumber") or 0, m.get("resourceVersion") or 0))
        sequence = [m.get("sequenceNumber") for m in group if m.get("sequenceNumber") is not None]
        if sequence and sequence[-1] - sequence[0] + 1 != len(set(sequence)):
            plan.gaps.append(f"{resource_type} {resource_id}: sequence numbers {sequence}")
        seen_version = known[resource_type].get(resource_id, 0)
        for message in group:
            plan.messages.append(message)
            kind = EFFECTS.get(message["type"])
            version = message.get("resourceVersion") or 0
            deletion = kind in (CUSTOMER_DELETED, PRODUCT_DELETED)
            if kind is None or (version <= seen_version and not deletion):
                plan.stale += 1
                continue
            plan.by_type[message["type"]] += 1
            if resource_id not in plan.effects[kind]:
                plan.effects[kind].append(resource_id)
            newest = plan.resources[resource_type].get(resource_id, (0, None))
            if version >= newest[0]:
                plan.resources[resource_type][resource_id] = (version, message.get("sequenceNumber"))
    # A deleted resource needs no refresh of its other messages: it cannot be read any more.
    for kind, gone in ((CONTACT, CUSTOMER_DELETED), (PRODUCT, PRODUCT_DELETED)):
        plan.effects[kind] = [i for i in plan.effects[kind] if i not in set(plan.effects[gone])]
    return plan
