"""Extracted commercetools documents as frames, and the pandera schemas that guard them.

Each row keeps its raw document as JSON (``document``) so mapping works from exactly what
commercetools returned, the references the extraction resolved for it (``context``: a customer's
identifiers, discount codes, category paths), and the flat columns a data team filters on and
pandera checks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ValidationError

from ct_ometria.commercetools.models import Category, Customer, Order, Product
from ct_ometria.mapping.common import is_valid_email
from ct_ometria.validation import REJECTION, TEXT, apply_schema

BASE_COLUMNS = ["id", "version", "created_at", "last_modified_at", "partition", "document", "context"]


def partition_of(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).date().isoformat()


def pydantic_reasons(error: ValidationError) -> str:
    """``field: reason`` for each problem, without the offending value (it may be personal data)."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "record"
        parts.append(f"{field}: {item['msg'].lower()}")
    return "; ".join(parts)


def document_text(value: Any) -> str:
    """A document (or context) as the JSON text a frame keeps: keys sorted, UTF-8 as is. orjson
    writes it, several times faster than the standard library (every document passes here once);
    what orjson refuses (an integer beyond 64 bits) the standard library writes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)


# What a frame's timestamps hold (1677 to 2262): a moment outside is none, and its row is set aside.
_EARLIEST = pd.Timestamp.min.ceil("us").tz_localize("UTC").to_pydatetime()
_LATEST = pd.Timestamp.max.floor("us").tz_localize("UTC").to_pydatetime()
OUT_OF_RANGE = f"is beyond the moments a frame holds ({_EARLIEST.date()} to {_LATEST.date()}, UTC)"


def utc_moment(value: Any) -> dt.datetime | None:
    """A moment in UTC, or None when ``value`` is none or is beyond what a frame holds; the frame
    turns its column into timestamps at once."""
    if not isinstance(value, (str, dt.datetime)):
        return None  # commercetools writes moments as text; a number is not one
    moment = None
    if isinstance(value, str) and value.endswith("Z"):
        # commercetools' own form (2024-05-02T09:00:00.000Z): the C parser, several times faster.
        try:
            moment = dt.datetime.fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            pass
    if moment is None:
        try:
            stamp = pd.Timestamp(value)
            if stamp is pd.NaT:
                return None
            moment = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()
        except (TypeError, ValueError, OverflowError):
            return None  # not a moment, or one beyond any calendar once in UTC (9999-12-31T23:59-02:00)
    return moment if _EARLIEST <= moment <= _LATEST else None


def moment_problem(field: str, value: Any) -> str:
    """Why ``utc_moment(value)`` gave none, for a record's reason (without the value)."""
    if value is None:
        return f"{field}: is missing"
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00") if isinstance(value, str) else "")
    except ValueError:
        return f"{field}: is not a date-time"
    return f"{field}: {OUT_OF_RANGE}"


@dataclass(frozen=True)
class Entity:
    """What distinguishes one commercetools resource's frame from another's."""

    name: str
    model: type[BaseModel]
    columns: Callable[[Any], dict[str, Any]]
    column_names: tuple[str, ...]
    schema: pa.DataFrameSchema
    # The document field each checked column comes from, so a reason names what to fix in commercetools.
    fields: dict[str, str] = field(default_factory=dict)


def entity_row(document: dict[str, Any], entity: Entity, context: Any = None) -> dict[str, Any]:
    """One frame row; a document pydantic cannot read keeps its id and gets its reason."""
    row: dict[str, Any] = {name: None for name in entity.column_names}
    text = document_text(document)
    row.update(
        id=str(document["id"]) if document.get("id") is not None else None,
        version=document.get("version") if isinstance(document.get("version"), int) else None,
        document=text,
        context=document_text(context) if context is not None else None,
        last_modified_at=utc_moment(document.get("lastModifiedAt")),
        created_at=utc_moment(document.get("createdAt")),
    )
    modified = row["last_modified_at"]
    row["partition"] = partition_of(modified) if modified is not None else None
    row[REJECTION] = None
    try:
        # From the text the frame keeps, as mapping reads it: the same verdict at both stages, and
        # pydantic-core validates JSON faster than it walks the parsed dicts.
        parsed = entity.model.model_validate_json(text)
    except ValidationError as error:
        row[REJECTION] = pydantic_reasons(error)
        return row
    if modified is None:
        # A moment pydantic reads but a frame cannot hold (year 9999, say).
        row[REJECTION] = moment_problem("lastModifiedAt", document.get("lastModifiedAt"))
    row.update(entity.columns(parsed))
    return row


def entity_rows(
    documents: Iterable[dict[str, Any]], entity: Entity, contexts: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The frame rows of ``documents``: each keeps its document as JSON text, so a page of parsed
    documents can be let go as soon as its rows are made (a parsed order takes several times the
    memory of its text)."""
    contexts = contexts or {}
    return [entity_row(doc, entity, contexts.get(str(doc.get("id")))) for doc in documents]


def entity_frame(
    documents: Iterable[dict[str, Any]], entity: Entity, contexts: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Rows for ``documents``, deduplicated on id keeping the highest version, then validated."""
    return rows_frame(entity_rows(documents, entity, contexts), entity)


def rows_frame(rows: list[dict[str, Any]], entity: Entity) -> pd.DataFrame:
    """The validated frame of ``entity_rows``, deduplicated on id keeping the highest version."""
    columns = [*BASE_COLUMNS, *entity.column_names, REJECTION]
    frame = pd.DataFrame(rows, columns=columns)
    frame["version"] = frame["version"].astype("Int64")
    for column in ("created_at", "last_modified_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in entity.column_names:
        if frame[column].dtype == float and frame[column].isna().all():
            frame[column] = frame[column].astype(object)
    frame = (
        frame.sort_values(["id", "version"], na_position="first")
        .drop_duplicates(subset=["id"], keep="last")
        .sort_values("id")
        .reset_index(drop=True)
    )
    return apply_schema(frame, entity.schema, {**BASE_FIELDS, **entity.fields})


BASE_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(TEXT, nullable=False, unique=True, checks=pa.Check.str_length(min_value=1)),
        "version": pa.Column("Int64", nullable=False, checks=pa.Check.ge(1)),
        "last_modified_at": pa.Column("datetime64[ns, UTC]", nullable=False),
        "created_at": pa.Column("datetime64[ns, UTC]", nullable=True),
        "partition": pa.Column(TEXT, nullable=False),
        "document": pa.Column(TEXT, nullable=False),
    },
    strict=False,
)

BASE_FIELDS = {"last_modified_at": "lastModifiedAt", "created_at": "createdAt"}
_EMAIL = pa.Check(is_valid_email, element_wise=True, error="not a valid email address")

CUSTOMERS = Entity(
    name="ct_customers",
    model=Customer,
    columns=lambda c: {
        "email": c.email, "customer_number": c.customer_number, "external_id": c.external_id,
        "key": c.key, "locale": c.locale, "store_keys": ",".join(c.store_keys),
    },
    column_names=("email", "customer_number", "external_id", "key", "locale", "store_keys"),
    schema=BASE_SCHEMA.add_columns({"email": pa.Column(TEXT, nullable=False, checks=_EMAIL)}).set_name("ct_customers"),
)  # fmt: skip

ORDERS = Entity(
    name="ct_orders",
    model=Order,
    columns=lambda o: {
        "order_number": o.order_number, "customer_id": o.customer_id, "email": o.customer_email,
        "store_key": o.store.key if o.store else None, "currency": o.total_price.currency_code,
        "order_state": o.order_state, "line_items": len(o.line_items),
    },
    column_names=("order_number", "customer_id", "email", "store_key", "currency", "order_state", "line_items"),
    schema=BASE_SCHEMA.add_columns(
        {
            "email": pa.Column(TEXT, nullable=True, checks=_EMAIL),
            "currency": pa.Column(TEXT, nullable=False,
                                  checks=pa.Check.str_matches(r"^[A-Z]{3}$", error="not an ISO 4217 currency code")),
            "order_state": pa.Column(TEXT, checks=pa.Check.isin(["Open", "Confirmed", "Complete", "Cancelled"],
                                                               error="not an order state")),
        }
    ).set_name("ct_orders"),
    fields={"email": "customerEmail", "currency": "totalPrice.currencyCode", "order_state": "orderState"},
)  # fmt: skip

PRODUCTS = Entity(
    name="ct_products",
    model=Product,
    columns=lambda p: {
        "key": p.key, "published": p.master_data.published,
        "variants": len(p.master_data.current.all_variants()),
        "master_sku": p.master_data.current.master_variant.sku,
    },
    column_names=("key", "published", "variants", "master_sku"),
    schema=BASE_SCHEMA.add_columns({"variants": pa.Column("Int64", coerce=True, checks=pa.Check.ge(1))}).set_name(
        "ct_products"
    ),
    fields={"variants": "masterData.current.masterVariant"},
)  # fmt: skip

CATEGORIES = Entity(
    name="ct_categories",
    model=Category,
    columns=lambda c: {"key": c.key, "parent_id": c.parent.id if c.parent else None, "depth": len(c.ancestors)},
    column_names=("key", "parent_id", "depth"),
    schema=BASE_SCHEMA.set_name("ct_categories"),
)


def customers_frame(documents: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return entity_frame(documents, CUSTOMERS)
