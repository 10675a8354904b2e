"""Mapped Ometria records as frames, and the pandera schemas that must pass before a push.

A row's ``record`` is the exact canonical JSON that will be sent, so what the check validated is
what Ometria receives. One source row may give several records (a product and its variants);
a source row that cannot be mapped gives one row with its reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
import pandas as pd
import pandera.pandas as pa
from pydantic import ValidationError

from ct_ometria.canonical import canonical_json
from ct_ometria.commercetools.frames import pydantic_reasons
from ct_ometria.commercetools.models import Customer, Order, Product
from ct_ometria.config import MappingConfig
from ct_ometria.mapping.common import InvalidField, is_valid_email, looks_personal
from ct_ometria.mapping.contacts import contact_record, guest_contact_id, guest_contact_record
from ct_ometria.mapping.orders import order_record
from ct_ometria.mapping.products import product_records
from ct_ometria.mapping.stores import StoreContext, store_for
from ct_ometria.ometria.client import MAX_RECORD_BYTES
from ct_ometria.validation import REJECTION, TEXT, apply_schema, valid_rows

RECORD_COLUMNS = ["id", "source_id", "version", "partition", "record", "record_bytes", REJECTION]
# A mapped record may carry frame columns under this key; they are taken out before it is serialised.
COLUMNS_KEY = "__columns__"

# (the document's JSON text, its context) -> records. The text goes to pydantic as is: validating
# JSON in pydantic-core is cheaper than parsing it to Python objects first and validating those.
MapRow = Callable[[str, Any], list[dict[str, Any]]]
Extra = Callable[[dict[str, Any]], dict[str, Any]]


def mapped_frame(
    source: pd.DataFrame, map_row: MapRow, schema: pa.DataFrameSchema, extra: Extra | None = None,
    extra_columns: tuple[str, ...] = (),
) -> pd.DataFrame:  # fmt: skip
    """``map_row(document text, context)`` for every valid source row, one frame row per record."""
    rows = []
    # Only the columns mapping reads: itertuples makes a Timestamp of every datetime cell it passes.
    wanted = [name for name in ("id", "version", "partition", "document", "context") if name in source]
    for source_row in valid_rows(source)[wanted].itertuples(index=False):
        base = {"source_id": source_row.id, "version": source_row.version, "partition": source_row.partition}
        context = orjson.loads(source_row.context) if getattr(source_row, "context", None) else None
        try:
            records = map_row(source_row.document, context)
        except InvalidField as error:
            rows.append({**base, "id": source_row.id, REJECTION: str(error)})
            continue
        except ValidationError as error:
            rows.append({**base, "id": source_row.id, REJECTION: pydantic_reasons(error)})
            continue
        for record in records:
            columns = record.pop(COLUMNS_KEY, {})
            text = canonical_json(record)
            size = len(text.encode("utf-8"))
            rows.append(
                {
                    **base,
                    "id": record["id"],
                    "record": text,
                    "record_bytes": size,
                    REJECTION: too_large(record) if size > MAX_RECORD_BYTES else None,
                    **(extra(record) if extra else {}),
                    **columns,
                }
            )
    frame = pd.DataFrame(rows, columns=[*RECORD_COLUMNS[:4], *extra_columns, *RECORD_COLUMNS[4:]])
    frame["version"] = frame["version"].astype("Int64")
    frame["record_bytes"] = frame["record_bytes"].astype("Int64")
    return with_siblings_held(apply_schema(frame, schema))


def largest_value(value: Any, path: str = "") -> tuple[str, int]:
    """The path and size in bytes of the largest value in a record: what to shorten when it is too large."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = [largest_value(child, f"{path}.{key}" if path else str(key)) for key, child in items]
    return max(found, key=lambda pair: pair[1]) if found else (path or "record", len(canonical_json(value).encode("utf-8")))


def too_large(record: dict[str, Any]) -> str:
    """Why a record over Ometria's limit is set aside, naming the value that makes it so."""
    field, size = largest_value(record)
    return f"record_bytes: record is over Ometria's {MAX_RECORD_BYTES} bytes; {field}: its largest value, {size} bytes"


def with_siblings_held(frame: pd.DataFrame) -> pd.DataFrame:
    """A source document goes whole or not at all: when one of its records (a product's parent or a
    variant) is set aside, the others are too, with the same reason, so Ometria never holds a variant
    whose parent did not arrive."""
    reasons = frame[frame[REJECTION].notna()].groupby("source_id")[REJECTION].first()
    held = frame[REJECTION].isna() & frame["source_id"].isin(reasons.index)
    if held.any():
        frame.loc[held, REJECTION] = frame.loc[held, "source_id"].map(reasons)
    return frame


def _is_normalised_email(value: object) -> bool:
    return isinstance(value, str) and value == value.strip().lower() and is_valid_email(value)


def _is_pii_free(value: object) -> bool:
    return isinstance(value, str) and bool(value) and not looks_personal(value)


PII_FREE_ID = pa.Check(_is_pii_free, element_wise=True, error="id must not contain personal data")
NORMALISED_EMAIL = pa.Check(_is_normalised_email, element_wise=True, error="not a trimmed, lower-case, valid email")

RECORDS_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(TEXT, unique=True, checks=PII_FREE_ID),
        "record": pa.Column(TEXT),
        "record_bytes": pa.Column(
            "Int64", checks=pa.Check.le(MAX_RECORD_BYTES, error=f"record is over Ometria's {MAX_RECORD_BYTES} bytes")
        ),
        "partition": pa.Column(TEXT),
    },
    strict=False,
)


# --- contacts ---------------------------------------------------------------------------------

CONTACTS_SCHEMA = RECORDS_SCHEMA.add_columns(
    {
        "email": pa.Column(TEXT, checks=NORMALISED_EMAIL),
        # Guests (checkout opt-in without a customer record) have no customer_id.
        "customer_id": pa.Column(TEXT, nullable=True, checks=PII_FREE_ID),
    }
).set_name("ometria_contacts")


CONSENT_COLUMNS = ("consent_state", "consent_source", "consent_value", "consent_at", "phone_dropped")


def contacts_frame(
    customers: pd.DataFrame, config: MappingConfig, consents: dict[str, dict[str, Any]] | None = None
) -> pd.DataFrame:
    """Contacts with their consent decided; ``consents`` come from ``ct_consents`` (by customer id,
    or ``email:<address>``)."""
    consents = consents or {}

    def map_row(document: str, context: Any) -> list[dict[str, Any]]:
        customer = Customer.model_validate_json(document)
        # Consent by customer id wins over consent by email; a suppression from either counts.
        found = {**consents.get(f"email:{customer.email.strip().lower()}", {}), **consents.get(customer.id, {})}
        record, decision, phone_dropped = contact_record(customer, config, found)
        record[COLUMNS_KEY] = {
            "consent_state": decision.state, "consent_source": decision.source,
            "consent_value": decision.value, "consent_at": decision.at, "phone_dropped": phone_dropped,
        }  # fmt: skip
        return [record]

    return mapped_frame(
        customers, map_row, CONTACTS_SCHEMA,
        extra=lambda r: {"email": r.get("email"), "customer_id": r.get("customer_id")},
        extra_columns=("email", "customer_id", *CONSENT_COLUMNS),
    )  # fmt: skip


def guest_contacts_frame(guests: dict[str, dict[str, Any]], known_emails: set[str], config: MappingConfig) -> pd.DataFrame:
    """Contacts for guests who answered the checkout opt-in and have no customer record this window."""
    rows = []
    for email, consent in sorted(guests.items()):
        if email in known_emails:
            continue  # a registered customer with this email carries the consent instead
        # The source id is the guest's contact id: the ledger and dead letters never hold the email.
        row = {"source_id": guest_contact_id(email.strip().lower()), "version": None,
               "partition": consent.get("partition"), "customer_id": None, REJECTION: None}  # fmt: skip
        try:
            record, decision = guest_contact_record(email, consent, config)
        except InvalidField as error:
            rows.append({**row, "id": "guest", REJECTION: str(error)})
            continue
        text = canonical_json(record)
        rows.append({**row, "id": record["id"], "email": record["email"], "record": text,
                     "record_bytes": len(text.encode("utf-8")), "consent_state": decision.state,
                     "consent_source": decision.source, "consent_value": decision.value, "consent_at": decision.at})  # fmt: skip
    columns = [*RECORD_COLUMNS[:4], "email", "customer_id", *CONSENT_COLUMNS, *RECORD_COLUMNS[4:]]
    frame = pd.DataFrame(rows, columns=columns)
    frame["version"] = frame["version"].astype("Int64")
    frame["record_bytes"] = frame["record_bytes"].astype("Int64")
    return frame


# --- orders -----------------------------------------------------------------------------------

ORDERS_SCHEMA = RECORDS_SCHEMA.add_columns(
    {
        "currency": pa.Column(TEXT, checks=pa.Check.str_matches(r"^[A-Z]{3}$")),
        "grand_total": pa.Column(TEXT, checks=pa.Check(lambda v: not v.startswith("-"), element_wise=True,
                                                      error="negative grand_total")),  # fmt: skip
        "status": pa.Column(TEXT, checks=pa.Check.isin(["pending", "shipped", "complete", "cancelled", "refunded"])),
    }
).set_name("ometria_orders")


def orders_frame(orders: pd.DataFrame, stores: dict[str, StoreContext], config: MappingConfig) -> pd.DataFrame:
    def map_row(document: str, context: Any) -> list[dict[str, Any]]:
        order = Order.model_validate_json(document)
        return [order_record(order, context, store_for(order.store.key if order.store else None, stores, config), config)]

    return mapped_frame(
        orders, map_row, ORDERS_SCHEMA,
        extra=lambda r: {"currency": r["currency"], "grand_total": str(r["grand_total"]), "status": r["status"],
                         "product_ids": ",".join(sorted({line["product_id"] for line in r.get("lineitems", [])}))},
        extra_columns=("currency", "grand_total", "status", "product_ids"),
    )  # fmt: skip


# --- products ---------------------------------------------------------------------------------

PRODUCTS_SCHEMA = RECORDS_SCHEMA.add_columns(
    {"is_variant": pa.Column(bool), "is_active": pa.Column(bool)}
).set_name("ometria_products")


def products_frame(
    products: pd.DataFrame, stores: dict[str, StoreContext], config: MappingConfig, as_of: dt.datetime
) -> pd.DataFrame:
    contexts = list(stores.values())

    def map_row(document: str, context: Any) -> list[dict[str, Any]]:
        return product_records(Product.model_validate_json(document), context, contexts, config, as_of)

    return mapped_frame(
        products, map_row, PRODUCTS_SCHEMA,
        extra=lambda r: {"is_variant": r["is_variant"], "is_active": r["is_active"], "parent_id": r.get("parent_id")},
        extra_columns=("is_variant", "is_active", "parent_id"),
    )  # fmt: skip
