"""Consent as commercetools holds it: configured customer custom fields, or custom objects.

commercetools has no consent field of its own; projects keep it either in a customer Custom Type
(e.g. ``newsletterOptIn`` with ``newsletterOptInAt``) or in custom objects of a container, keyed by
customer id, whose value holds the same field names; an object for an email address (a shopper
without an account) keeps the address in ``value.email``, because custom-object keys may not
contain ``@``. The field names come from the
mapping config. This module only reads: the rules that turn consent into Ometria opt-ins are the
mapping's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pandera.pandas as pa

from ct_ometria.commercetools.client import CommercetoolsClient, modified_window_predicate
from ct_ometria.commercetools.frames import moment_problem, partition_of, utc_moment
from ct_ometria.config import ConsentConfig
from ct_ometria.errors import ConfigError
from ct_ometria.validation import REJECTION, TEXT, apply_schema, valid_rows

CONSENT_COLUMNS = [
    "id", "customer", "email", "source", "email_optin", "email_optin_at", "sms_optin", "sms_optin_at", "suppressed",
    "partition", REJECTION,
]  # fmt: skip
CHANNEL_FIELDS = (
    ("email_optin", "email_optin_field"), ("email_optin_at", "email_optin_at_field"),
    ("sms_optin", "sms_optin_field"), ("sms_optin_at", "sms_optin_at_field"),
)  # fmt: skip


def check_consent_fields(client: CommercetoolsClient, consent: ConsentConfig) -> None:
    """Every configured consent field must be a field of a customer Custom Type, or nothing could
    ever be read from it: fail naming the config key rather than silently sending no consent."""
    wanted = [("customer", consent.custom_fields()), ("order", consent.order_fields())]
    if not any(named for _, named in wanted):
        return
    types = [custom_type for page in client.pages("types") for custom_type in page]
    for resource, named in wanted:
        fields = {
            definition.get("name")
            for custom_type in types
            if resource in custom_type.get("resourceTypeIds", [])
            for definition in custom_type.get("fieldDefinitions", [])
        }
        for key, name in named:
            if name not in fields:
                known = ", ".join(sorted(f for f in fields if f)) or "none"
                raise ConfigError(
                    f"mapping config {key}: {name!r} is not a field of any {resource} Custom Type in commercetools "
                    f"({resource} fields: {known})"
                )


def fetch_consent_objects(
    client: CommercetoolsClient, container: str, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    where, variables = modified_window_predicate(start, end)
    return [
        document
        for page in client.pages(
            "custom-objects", where=f"container = :container and {where}", variables={**variables, "container": container}
        )
        for document in page
    ]


def _values(fields: dict[str, Any], consent: ConsentConfig) -> tuple[dict[str, Any], list[str]]:
    values, problems = {}, []
    for column, setting in CHANNEL_FIELDS:
        name = getattr(consent, setting)
        value = fields.get(name) if name else None
        if value is not None and column.endswith("_optin") and not isinstance(value, bool):
            problems.append(f"{name}: not a boolean")
            value = None
        if value is not None and column.endswith("_at"):
            try:
                value = pd.Timestamp(value).isoformat()
            except (TypeError, ValueError):
                problems.append(f"{name}: not a date-time")
                value = None
        values[column] = value
    return values, problems


def _has_any(values: dict[str, Any]) -> bool:
    return any(values[column] is not None for column, _ in CHANNEL_FIELDS)


def fetch_suppressed(client: CommercetoolsClient, container: str, emails: list[str]) -> list[dict[str, Any]]:
    """The suppression-list objects for ``emails`` (each object's ``value.email``)."""
    found = []
    for start in range(0, len(emails), 100):
        chunk = emails[start : start + 100]
        params = [("where", "container = :container and value(email in :emails)"), ("var.container", container),
                  ("limit", "500"), ("withTotal", "false")] + [("var.emails", email) for email in chunk]  # fmt: skip
        found += client.get("/custom-objects", params).get("results", [])
    return found


def checkout_guests(consents: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Consent given at checkout by shoppers without a customer record, by email (newest wins)."""
    guests: dict[str, dict[str, Any]] = {}
    rows = valid_rows(consents)
    rows = rows[(rows["source"] == "checkout") & rows["customer"].isna()].sort_values("email_optin_at")
    for row in rows.itertuples(index=False):
        guests[row.email] = {"email_optin": row.email_optin, "email_optin_at": row.email_optin_at,
                             "source": "checkout", "partition": row.partition}  # fmt: skip
    return guests


def customer_emails(customers: pd.DataFrame) -> list[str]:
    return sorted({str(email).strip().lower() for email in valid_rows(customers)["email"] if isinstance(email, str)})


def checkout_rows(orders: pd.DataFrame, consent: ConsentConfig) -> list[dict[str, Any]]:
    """Consent given at checkout (an order custom field), by the order's email and customer."""
    if not consent.order_optin_field or orders is None or orders.empty:
        return []
    rows = []
    for order in valid_rows(orders).itertuples(index=False):
        document = json.loads(order.document)
        custom = document.get("custom")
        fields = custom.get("fields") if isinstance(custom, dict) else None
        # The order model does not read custom fields: a broken one (not an object) holds no opt-in.
        value = fields.get(consent.order_optin_field) if isinstance(fields, dict) else None
        email = document.get("customerEmail")
        if value is None or not isinstance(email, str):
            continue
        problem = None if isinstance(value, bool) else f"{consent.order_optin_field}: not a boolean"
        given = utc_moment(document.get("createdAt"))
        rows.append({
            "id": order.id, "customer": document.get("customerId"), "email": email.strip().lower(), "source": "checkout",
            "email_optin": value if problem is None else None,
            "email_optin_at": given.isoformat() if given else None, "partition": order.partition,
            REJECTION: problem or (None if given else moment_problem("createdAt", document.get("createdAt"))),
        })  # fmt: skip
    return rows


def _day(document: dict[str, Any]) -> tuple[str | None, str | None]:
    """A custom object's day (by its last modification), or the reason it has none."""
    moment = utc_moment(document.get("lastModifiedAt"))
    if moment is None:
        return None, moment_problem("lastModifiedAt", document.get("lastModifiedAt"))
    return partition_of(moment), None


def consent_frame(
    customers: pd.DataFrame, objects: list[dict[str, Any]], consent: ConsentConfig,
    suppressed: list[dict[str, Any]] = (), orders: pd.DataFrame | None = None,
) -> pd.DataFrame:  # fmt: skip
    rows = checkout_rows(orders, consent)
    partitions = {str(e).strip().lower(): p for e, p in zip(customers["email"], customers["partition"], strict=True)}
    for document in suppressed:
        value = document.get("value") if isinstance(document.get("value"), dict) else {}
        if value.get("suppressed") is False or not isinstance(value.get("email"), str):
            continue
        email = value["email"].strip().lower()
        day, problem = partitions.get(email), None
        if day is None:
            day, problem = _day(document)
        rows.append({"id": str(document.get("id")), "customer": None, "email": email, "source": "suppression_list",
                     "suppressed": True, "partition": day, REJECTION: problem})  # fmt: skip
    if any(getattr(consent, setting) for _, setting in CHANNEL_FIELDS):
        for customer in valid_rows(customers).itertuples(index=False):
            fields = ((json.loads(customer.document).get("custom") or {}).get("fields")) or {}
            values, problems = _values(fields, consent)
            if _has_any(values) or problems:
                rows.append({"id": customer.id, "customer": customer.id, "email": None, "source": "custom_fields",
                             "partition": customer.partition, **values,
                             REJECTION: "; ".join(problems) or None})  # fmt: skip
    for document in objects:
        value = document.get("value") if isinstance(document.get("value"), dict) else {}
        values, problems = _values(value, consent)
        by_email = isinstance(value.get("email"), str)
        key = value["email"] if by_email else str(document.get("key", ""))
        day, problem = _day(document)
        rows.append(
            {
                "id": str(document.get("id")), "customer": None if by_email else key,
                "email": key.strip().lower() if by_email else None, "source": "custom_object",
                "partition": day, **values,
                REJECTION: "; ".join(problems) or problem
                           or (None if _has_any(values) else "value: holds no configured consent field"),
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows, columns=CONSENT_COLUMNS)
    for column in ("email_optin", "sms_optin", "suppressed"):
        frame[column] = frame[column].astype(object)
    return apply_schema(frame, CONSENTS_SCHEMA)


CONSENTS_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(TEXT, unique=True),
        "source": pa.Column(
            TEXT, checks=pa.Check.isin(["custom_fields", "custom_object", "suppression_list", "checkout"])
        ),
        "partition": pa.Column(TEXT),
    },
    checks=pa.Check(lambda df: df["customer"].notna() | df["email"].notna(), error="names neither a customer nor an email"),
    name="ct_consents",
)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # None or NaN from Parquet


def consent_by_customer(consents: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The newest consent per customer id and per email (``email:`` keys), for carrying onto contacts."""
    found: dict[str, dict[str, Any]] = {}
    rows = valid_rows(consents)
    # Oldest first (by the moment, parsed to UTC), so a newer decision overwrites an older one.
    rows = rows.assign(_when=pd.to_datetime(rows["email_optin_at"], utc=True, errors="coerce"))
    for row in rows.sort_values("_when", na_position="first").itertuples(index=False):
        values = {column: getattr(row, column) for column, _ in CHANNEL_FIELDS}
        values = {column: None if _missing(value) else value for column, value in values.items()}
        values["source"] = row.source
        if not _missing(row.suppressed) and bool(row.suppressed):
            values = {"suppressed": True, "suppression_source": f"suppression list ({row.source})"}
        customer = None if _missing(row.customer) else row.customer
        # A row that names its customer is theirs alone: another account with the same email
        # (per-store accounts) must not inherit it.
        email = None if _missing(row.email) or customer else row.email
        for key in (customer, f"email:{email}" if email else None):
            if key:
                found[key] = _merge(found.get(key, {}), {k: v for k, v in values.items() if v is not None})
    return found


def _merge(older: dict[str, Any], newer: dict[str, Any]) -> dict[str, Any]:
    """The newer decision wins, except that when either lacks a moment and they disagree, the refusal
    wins: the order is then unknown, and an unknown order must never opt anyone in."""
    merged = {**older, **newer}
    for field in ("email_optin", "sms_optin"):
        conflict = older.get(field) is not None and newer.get(field) is not None and older[field] != newer[field]
        unknown_order = not older.get(f"{field}_at") or not newer.get(f"{field}_at")
        if conflict and unknown_order:
            merged[field] = False
    if older.get("suppressed") or newer.get("suppressed"):
        merged["suppressed"] = True
        merged["suppression_source"] = newer.get("suppression_source") or older.get("suppression_source")
    return merged
