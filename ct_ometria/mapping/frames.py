"""Mapped Ometria records as frames, and the pandera schemas that must pass before a push.

A row's ``record`` is the exact canonical JSON that will be sent, so what the check validated is
what Ometria receives.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pandera.pandas as pa

from ct_ometria.canonical import canonical_json
from ct_ometria.commercetools.frames import is_email, pydantic_reasons
from ct_ometria.commercetools.models import Customer
from ct_ometria.config import MappingConfig
from ct_ometria.mapping.common import InvalidField, looks_personal
from ct_ometria.mapping.contacts import contact_record
from ct_ometria.ometria.client import MAX_RECORD_BYTES
from ct_ometria.validation import REJECTION, apply_schema, valid_rows

RECORD_COLUMNS = ["id", "source_id", "version", "partition", "record", "record_bytes", REJECTION]
CONTACT_COLUMNS = [*RECORD_COLUMNS[:4], "email", "customer_id", *RECORD_COLUMNS[4:]]


def _record_columns(record: dict[str, Any]) -> dict[str, Any]:
    text = canonical_json(record)
    return {"record": text, "record_bytes": len(text.encode("utf-8"))}


def contacts_frame(customers: pd.DataFrame, config: MappingConfig) -> pd.DataFrame:
    """Map every valid customer row; a customer that cannot map is kept with its reason."""
    rows = []
    for source in valid_rows(customers).itertuples(index=False):
        row: dict[str, Any] = {
            "id": source.id,
            "source_id": source.id,
            "version": source.version,
            "partition": source.partition,
            REJECTION: None,
        }
        try:
            record = contact_record(Customer.model_validate(json.loads(source.document)), config)
        except InvalidField as error:
            row[REJECTION] = str(error)
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            row[REJECTION] = pydantic_reasons(error) if hasattr(error, "errors") else str(error)
        else:
            row.update(id=record["id"], email=record.get("email"), customer_id=record.get("customer_id"))
            row.update(_record_columns(record))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=CONTACT_COLUMNS)
    frame["version"] = frame["version"].astype("Int64")
    frame["record_bytes"] = frame["record_bytes"].astype("Int64")
    return apply_schema(frame, CONTACTS_SCHEMA)


def _is_normalised_email(value: object) -> bool:
    return isinstance(value, str) and value == value.strip().lower() and is_email(value)


def _is_pii_free(value: object) -> bool:
    return isinstance(value, str) and bool(value) and not looks_personal(value)


_RECORD_SIZE = pa.Check.le(MAX_RECORD_BYTES, error=f"record is over Ometria's {MAX_RECORD_BYTES} bytes")

CONTACTS_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(
            str,
            unique=True,
            checks=pa.Check(_is_pii_free, element_wise=True, error="contact id must not contain personal data"),
        ),
        "email": pa.Column(
            str,
            checks=pa.Check(_is_normalised_email, element_wise=True, error="not a trimmed, lower-case, valid email"),
        ),
        "customer_id": pa.Column(
            str, checks=pa.Check(_is_pii_free, element_wise=True, error="customer_id must not contain personal data")
        ),
        "record": pa.Column(str),
        "record_bytes": pa.Column("Int64", checks=_RECORD_SIZE),
        "partition": pa.Column(str),
    },
    name="ometria_contacts",
    strict=False,
)
