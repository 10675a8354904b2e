"""Reading named commercetools resources again and mapping them exactly as the daily sync does.

The sync assets and the event path share these, so a record sent by an event and the same record
sent by tomorrow's delta hash alike (and the second send is skipped).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd

from ct_ometria.canonical import canonical_json
from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.consent import consent_by_customer, consent_frame, customer_emails, fetch_suppressed
from ct_ometria.commercetools.frames import CUSTOMERS, ORDERS, PRODUCTS, Entity, entity_frame
from ct_ometria.commercetools.resolve import fetch_by_ids, order_contexts, product_contexts
from ct_ometria.config import MappingConfig
from ct_ometria.delivery import Delivery, candidates, deliver
from ct_ometria.ledger.store import Ledger
from ct_ometria.mapping.consent import without_revived_opt_in
from ct_ometria.mapping.frames import contacts_frame, products_frame
from ct_ometria.mapping.stores import StoreContext
from ct_ometria.ometria.client import OmetriaClient
from ct_ometria.validation import valid_rows

Contexts = Callable[[CommercetoolsClient, list[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class Source:
    resource: str
    entity: Entity
    contexts: Contexts | None = None
    expand: tuple[str, ...] = ()


CUSTOMER_SOURCE = Source("customers", CUSTOMERS, expand=("customerGroup",))
ORDER_SOURCE = Source("orders", ORDERS, contexts=order_contexts)
PRODUCT_SOURCE = Source("products", PRODUCTS, contexts=product_contexts)


def documents_frame(client: CommercetoolsClient, source: Source, documents: list[dict[str, Any]]) -> pd.DataFrame:
    """The entity frame of ``documents``, with the references extraction resolves."""
    contexts = source.contexts(client, documents) if source.contexts and documents else {}
    return entity_frame(documents, source.entity, contexts)


def fetch_frame(client: CommercetoolsClient, source: Source, ids: Iterable[str]) -> tuple[pd.DataFrame, list[str]]:
    """The entity frame of the resources with ``ids``, and the ids commercetools no longer has."""
    wanted = sorted(set(ids))
    documents = list(fetch_by_ids(client, source.resource, wanted, expand=source.expand).values())
    missing = sorted(set(wanted) - {d["id"] for d in documents})
    return documents_frame(client, source, documents), missing


def no_revived_opt_ins(contacts: pd.DataFrame, suppressed_since: dict) -> pd.DataFrame:
    """Lifting a suppression never opts anyone back in by itself: an opt-in older than the contact's
    last suppression is not sent."""
    if not suppressed_since:
        return contacts
    contacts = contacts.copy()
    for index, row in contacts.iterrows():
        since = suppressed_since.get(row["id"])
        if since is None or row["consent_state"] != "opted_in":
            continue
        given = pd.Timestamp(row["consent_at"]) if isinstance(row["consent_at"], str) else None
        if given is None or given.to_pydatetime() <= since:
            record = without_revived_opt_in(json.loads(row["record"]))
            text = canonical_json(record)
            contacts.at[index, "record"] = text
            contacts.at[index, "record_bytes"] = len(text.encode("utf-8"))
            contacts.at[index, "consent_state"] = "suppression_lifted"
    return contacts


def create_only_fields(config: MappingConfig) -> tuple[str, ...]:
    return tuple(sorted(name for name, owner in config.ownership.items() if owner == "ometria_on_create"))


def contacts_of(client: CommercetoolsClient, customers: pd.DataFrame, config: MappingConfig, ledger: Ledger) -> pd.DataFrame:
    """Contacts for a customers frame, with their consent as commercetools holds it now (custom
    fields and the suppression list; consent custom objects and checkout opt-ins come with the
    daily sync), the no-revival rule applied."""
    suppressed = []
    container = config.consent.suppression.custom_object_container
    if container:
        suppressed = fetch_suppressed(client, container, customer_emails(customers))
    consents = consent_frame(customers, [], config.consent, suppressed)
    contacts = contacts_frame(customers, config, consent_by_customer(consents))
    return no_revived_opt_ins(contacts, ledger.suppressed_since(list(valid_rows(contacts)["id"])))


def mark_sent_suppressed(contacts: pd.DataFrame, ledger: Ledger) -> None:
    """Remember who was sent suppressed (records Ometria accepted), for the no-revival rule."""
    rows = valid_rows(contacts)
    suppressed = list(rows[rows["consent_state"] == "suppressed"]["id"])
    accepted = ledger.known("contact", suppressed)
    ledger.mark_suppressed([record_id for record_id in suppressed if record_id in accepted])


def line_product_ids(orders: pd.DataFrame, order_ids: set[str] | None = None) -> set[str]:
    return {
        line["productId"]
        for row in orders.itertuples(index=False)
        if order_ids is None or row.id in order_ids
        for line in orjson.loads(row.document).get("lineItems", [])
        if line.get("productId")
    }


@dataclass
class PulledForward:
    sent: int = 0
    missing: list[str] = field(default_factory=list)


# Products read, mapped and sent at a time: a run that pulls a whole catalogue forward (the first
# weeks of a backfill) never holds it.
PULL_CHUNK = 500


def pull_products_forward(
    client: CommercetoolsClient, ometria: OmetriaClient, ledger: Ledger, config: MappingConfig,
    stores: dict[str, StoreContext], product_ids: set[str], *, run_id: str | None, stage: str,
) -> PulledForward:  # fmt: skip
    """Send the referenced products Ometria has not accepted yet, so an order line never points at a
    product Ometria does not know.

    A product any of whose records Ometria accepted is not read again (its changes travel with the
    daily product sync). Runs sharing the ledger pull one at a time, so two runs whose orders name
    the same new products do not both send them: the second finds them accepted."""
    pulled = PulledForward()
    if not product_ids:
        return pulled
    with ledger.exclusive("pull_products_forward"):
        wanted = sorted(product_ids)
        unknown = sorted(set(wanted) - set(ledger.records_of_sources("product", wanted)))
        for start in range(0, len(unknown), PULL_CHUNK):
            frame, missing = fetch_frame(client, PRODUCT_SOURCE, unknown[start : start + PULL_CHUNK])
            mapped = products_frame(frame, stores, config, dt.datetime.now(dt.timezone.utc))
            items = candidates(valid_rows(mapped).sort_values("is_variant", kind="stable"), "product")
            known = set(ledger.known("product", [i.record_id for i in items]))
            delivery = deliver(ometria, ledger, [i for i in items if i.record_id not in known], run_id=run_id, stage=stage)
            pulled.sent += delivery.report.sent
            pulled.missing += missing
    return pulled


def deliver_products(ometria: OmetriaClient, ledger: Ledger, mapped: pd.DataFrame, *, run_id: str | None,
                     stage: str) -> Delivery:  # fmt: skip
    """Parents before variants, so every variant's parent is known when it arrives."""
    rows = valid_rows(mapped).sort_values("is_variant", kind="stable")
    return deliver(ometria, ledger, candidates(rows, "product"), run_id=run_id, stage=stage)
