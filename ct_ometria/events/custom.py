"""Behavioural events as Ometria ``custom_event`` records.

An event is first kept as a *draft* (what the storefront or the cart poller knew: type, moment,
email and/or commercetools customer id, store key, locale, currency, properties) and becomes a record
when it is sent, once its store and identity are resolved. Ometria's rules: an ``id``, an
``event_type`` under 32 characters, an ISO 8601 timestamp with its offset, at least one identity,
and properties that are strings (at most 512 characters), numbers, booleans or lists of product ids.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ct_ometria.config import MappingConfig
from ct_ometria.mapping.common import InvalidField, compact, iso8601, looks_personal, normalise_email
from ct_ometria.mapping.stores import StoreContext, store_for

MAX_EVENT_TYPE = 32
MAX_STRING_PROPERTY = 512
MAX_PROPERTIES = 50


def check_properties(properties: Any, field: str = "properties") -> dict[str, Any]:
    """Flat properties Ometria can segment on, or ``InvalidField`` naming the property."""
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise InvalidField(field, "must be an object")
    if len(properties) > MAX_PROPERTIES:
        raise InvalidField(field, f"at most {MAX_PROPERTIES} properties")
    checked: dict[str, Any] = {}
    for name, value in properties.items():
        where = f"{field}.{name}"
        if not isinstance(name, str) or not name or len(name) > 64:
            raise InvalidField(field, "property names must be 1..64 characters")
        if isinstance(value, str):
            if len(value) > MAX_STRING_PROPERTY:
                raise InvalidField(where, f"longer than {MAX_STRING_PROPERTY} characters")
        elif isinstance(value, list):
            if not all(isinstance(item, str) and 0 < len(item) <= 255 for item in value):
                raise InvalidField(where, "a list must hold product ids (strings)")
        elif isinstance(value, float) and value != value:
            raise InvalidField(where, "not a number")
        elif value is not None and not isinstance(value, (bool, int, float, Decimal)):
            raise InvalidField(where, "must be a string, number, boolean or list of product ids")
        checked[name] = value
    return checked


def event_record(
    draft: dict[str, Any], stores: dict[str, StoreContext], account_ids: dict[str, str], config: MappingConfig
) -> dict[str, Any]:
    """The Ometria record of a draft, or ``InvalidField`` naming what is wrong (never its value)."""
    event_id = str(draft.get("event_id") or "")
    if not event_id or looks_personal(event_id):
        raise InvalidField("event_id", "missing or looks like personal data")
    event_type = str(draft.get("event_type") or "")
    if not event_type or len(event_type) > MAX_EVENT_TYPE:
        raise InvalidField("event_type", f"must be 1..{MAX_EVENT_TYPE} characters")
    try:
        moment = dt.datetime.fromisoformat(str(draft.get("occurred_at")).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField("occurred_at", "not an ISO 8601 moment") from None
    if moment.tzinfo is None:
        raise InvalidField("occurred_at", "has no UTC offset")
    email = normalise_email(draft["email"]) if draft.get("email") else None
    customer = draft.get("customer")
    account = account_ids.get(customer) if customer else None
    if customer and account is None:
        raise InvalidField("customer", "no such commercetools customer")
    if not email and not account:
        raise InvalidField("identity", "needs an email or a customer id")
    store = store_for(draft.get("store"), stores, config)
    properties = check_properties(draft.get("properties"))
    context = {"store": store.ometria_id, "locale": draft.get("locale") or store.locale,
               "currency": draft.get("currency") or store.currency}  # fmt: skip
    return compact(
        {
            "@type": "custom_event",
            "id": event_id,
            "event_type": event_type,
            "timestamp": iso8601(moment),
            "identity_email": email,
            "identity_account_id": account,
            "properties": {**properties, **{k: v for k, v in context.items() if v}},
        }
    )
