"""Extracted commercetools documents as frames, and the pandera schemas that guard them.

Each row keeps its raw document as JSON (``document``) so mapping works from exactly what
commercetools returned, plus the flat columns a data team filters on and pandera checks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pandera.pandas as pa
from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError

from ct_ometria.commercetools.models import Customer
from ct_ometria.validation import REJECTION, apply_schema

CUSTOMER_COLUMNS = [
    "id", "version", "email", "customer_number", "external_id", "key", "locale", "store_keys",
    "created_at", "last_modified_at", "partition", "document", REJECTION,
]  # fmt: skip


def is_email(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def partition_of(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d")


def pydantic_reasons(error: ValidationError) -> str:
    """``field: reason`` for each problem, without the offending value (it may be personal data)."""
    parts = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "record"
        parts.append(f"{field}: {item['msg'].lower()}")
    return "; ".join(parts)


def _utc(value: Any) -> pd.Timestamp | None:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if stamp is pd.NaT:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def customer_row(document: dict[str, Any]) -> dict[str, Any]:
    """One frame row; a document pydantic cannot read keeps its id and gets its reason."""
    row: dict[str, Any] = {
        "id": str(document.get("id")) if document.get("id") is not None else None,
        "version": document.get("version") if isinstance(document.get("version"), int) else None,
        "email": document.get("email") if isinstance(document.get("email"), str) else None,
        "document": json.dumps(document, ensure_ascii=False, sort_keys=True),
        REJECTION: None,
    }
    try:
        customer = Customer.model_validate(document)
    except ValidationError as error:
        modified = _utc(document.get("lastModifiedAt"))
        row.update(last_modified_at=modified, created_at=_utc(document.get("createdAt")), store_keys="")
        row["partition"] = partition_of(modified.to_pydatetime()) if modified is not None else None
        row[REJECTION] = pydantic_reasons(error)
        return row
    row.update(
        customer_number=customer.customer_number,
        external_id=customer.external_id,
        key=customer.key,
        locale=customer.locale,
        store_keys=",".join(customer.store_keys),
        created_at=_utc(customer.created_at),
        last_modified_at=_utc(customer.last_modified_at),
        partition=partition_of(customer.last_modified_at),
    )
    return row


def customers_frame(documents: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows for ``documents``, deduplicated on id keeping the highest version, then validated."""
    frame = pd.DataFrame([customer_row(doc) for doc in documents], columns=CUSTOMER_COLUMNS)
    frame["version"] = frame["version"].astype("Int64")
    for column in ("customer_number", "external_id", "key", "locale"):
        frame[column] = frame[column].astype(object)
    for column in ("created_at", "last_modified_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame = (
        frame.sort_values(["id", "version"], na_position="first")
        .drop_duplicates(subset=["id"], keep="last")
        .sort_values("id")
        .reset_index(drop=True)
    )
    return apply_schema(frame, CUSTOMERS_SCHEMA)


CUSTOMERS_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(str, nullable=False, unique=True, checks=pa.Check.str_length(min_value=1)),
        "version": pa.Column("Int64", nullable=False, checks=pa.Check.ge(1)),
        "email": pa.Column(
            str,
            nullable=False,
            checks=pa.Check(is_email, element_wise=True, error="not a valid email address"),
        ),
        "last_modified_at": pa.Column("datetime64[ns, UTC]", nullable=False),
        "created_at": pa.Column("datetime64[ns, UTC]", nullable=True),
        "partition": pa.Column(str, nullable=False),
        "document": pa.Column(str, nullable=False),
    },
    name="ct_customers",
    strict=False,
    coerce=False,
)
