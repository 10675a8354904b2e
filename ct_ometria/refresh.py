"""Reading named commercetools resources again and mapping them exactly as the daily sync does.

The sync assets and the event path share these, so a record sent by an event and the same record
sent by tomorrow's delta hash alike (and the second send is skipped).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
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


def line_products(orders: pd.DataFrame, mapped: pd.DataFrame) -> dict[str, set[str]]:
    """Per commercetools product id, the Ometria product records (``product_id`` and ``variant_id``)
    that the lines of the valid mapped orders name. A mapped order's lines follow its document's
    line items one for one, in order."""
    documents = dict(zip(orders["id"], orders["document"], strict=True))
    named: dict[str, set[str]] = {}
    for row in valid_rows(mapped).itertuples(index=False):
        document = documents.get(row.source_id)
        if document is None:
            continue
        items = [item for item in orjson.loads(document).get("lineItems", []) if isinstance(item, dict)]
        lines = orjson.loads(row.record).get("lineitems", [])
        paired = len(items) == len(lines)
        for index, item in enumerate(items):
            if not item.get("productId"):
                continue
            records = named.setdefault(item["productId"], set())
            if paired:
                records.update(lines[index][key] for key in ("product_id", "variant_id") if lines[index].get(key))
            else:
                records.add("")  # lines that cannot be told apart: the product is read and checked whole
    return named


@dataclass
class PulledForward:
    sent: int = 0
    missing: list[str] = field(default_factory=list)


# Products read, mapped and sent at a time: a run that pulls a whole catalogue forward (the first
# weeks of a backfill) never holds it.
PULL_CHUNK = 500


def _not_held(ledger: Ledger, referenced: dict[str, set[str]], product_ids: Sequence[str]) -> list[str]:
    """The products some of whose named records Ometria has not accepted."""
    names = sorted({record for product in product_ids for record in referenced[product]})
    held = set(ledger.known("product", names))
    return [product for product in product_ids if not referenced[product] <= held]


def pull_products_forward(
    client: CommercetoolsClient, ometria: OmetriaClient, ledger: Ledger, config: MappingConfig,
    stores: dict[str, StoreContext], referenced: dict[str, set[str]], *, run_id: str | None, stage: str,
    take_turn: bool = False,
) -> PulledForward:  # fmt: skip
    """Send the products the orders' lines name (``referenced``: per commercetools product id, the
    records its lines name, from ``line_products``) whose named records Ometria has not all accepted,
    so an order line never points at a product or variant Ometria does not know.

    Only those products are read from commercetools, 500 at a time. Runs sharing the ledger pull a
    chunk one at a time and look at the ledger again once they hold it, so two runs whose orders name
    the same new products do not both send them. ``take_turn``: as ``deliver``'s (a backfill's pull)."""
    pulled = PulledForward()
    waiting = _not_held(ledger, referenced, sorted(referenced))
    for start in range(0, len(waiting), PULL_CHUNK):
        with ledger.exclusive("pull_products_forward"):
            chunk = _not_held(ledger, referenced, waiting[start : start + PULL_CHUNK])
            if not chunk:
                continue
            frame, missing = fetch_frame(client, PRODUCT_SOURCE, chunk)
            mapped = products_frame(frame, stores, config, dt.datetime.now(dt.timezone.utc))
            items = candidates(valid_rows(mapped).sort_values("is_variant", kind="stable"), "product")
            known = set(ledger.known("product", [i.record_id for i in items]))
            delivery = deliver(ometria, ledger, [i for i in items if i.record_id not in known], run_id=run_id, stage=stage,
                               take_turn=take_turn)  # fmt: skip
            pulled.sent += delivery.report.sent
            pulled.missing += missing
    return pulled


def deliver_products(ometria: OmetriaClient, ledger: Ledger, mapped: pd.DataFrame, *, run_id: str | None,
                     stage: str) -> Delivery:  # fmt: skip
    """Parents before variants, so every variant's parent is known when it arrives."""
    rows = valid_rows(mapped).sort_values("is_variant", kind="stable")
    return deliver(ometria, ledger, candidates(rows, "product"), run_id=run_id, stage=stage)
