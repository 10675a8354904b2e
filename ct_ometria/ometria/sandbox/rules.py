"""Per-record validation of the sandbox (§8 rules 15-18), as plain functions.

Every function returns a list of ``(error_path, error_message)`` pairs using Ometria's path style
(``root > lineitems > 0 > product_id``); an empty list means the record is valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from .checks import Errors, FieldChecker, is_email, is_iso_date

RECORD_TYPES = ("contact", "order", "product", "custom_event")
MAX_EVENT_TYPE_CHARS = 32
MAX_EVENT_STRING_PROPERTY_CHARS = 512

CONTACT_FIELDS = frozenset(
    {
        "@type", "@collection", "@force_optin", "@merge", "@add_to_lists", "@remove_from_lists",
        "id", "email", "customer_id", "phone_number", "prefix", "firstname", "middlename", "lastname",
        "gender", "date_of_birth", "country_id", "timezone", "store_ids", "marketing_optin",
        "timestamp_acquired", "timestamp_subscribed", "timestamp_unsubscribed", "channels", "properties",
    }
)  # fmt: skip
MARKETING_OPTIN = frozenset({"EXPLICITLY_OPTEDIN", "EXPLICITLY_OPTEDOUT", "NOT_SPECIFIED"})
GENDERS = frozenset({"m", "f", "o"})
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PHONE_LIKE = re.compile(r"^\+?\d[\d\s-]{7,}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


def looks_like_pii(value: str) -> bool:
    """Ids must not contain PII: an ``@`` (e-mail address) or something shaped like a phone number."""
    return "@" in value or PHONE_LIKE.match(value) is not None


def _record_id(c: FieldChecker) -> None:
    c.string("id", required=True, non_empty=True)


def _list_ids(c: FieldChecker, field: str) -> None:
    if c.list_field(field):
        for i, item in enumerate(c.obj[field]):
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                c.add((field, i), "must be a list id (string or integer)")


def validate_contact(record: dict[str, Any], *, strict_required: bool = True) -> Errors:
    c = FieldChecker(record)
    for key in record:
        if key not in CONTACT_FIELDS:
            c.add(key, "unknown field")
    _record_id(c)
    if isinstance(record.get("id"), str) and looks_like_pii(record["id"]):
        c.add("id", "must not contain PII (looks like an email address or phone number)")
    c.string("@collection", non_empty=True)
    c.check("email", is_email, "not a valid email address", required=strict_required)
    c.check(
        "customer_id", lambda v: isinstance(v, str) and "@" not in v, "must be a string without PII (no '@')"
    )
    c.check("marketing_optin", lambda v: v in MARKETING_OPTIN, "not a valid value")
    c.check("gender", lambda v: v in GENDERS, "not a valid value")
    c.check("phone_number", lambda v: isinstance(v, str) and E164.match(v) is not None, "must be E.164")
    c.check("date_of_birth", is_iso_date, "must be a date (YYYY-MM-DD)")
    c.strings("prefix", "firstname", "middlename", "lastname", "country_id", "timezone")
    c.datetimes("timestamp_acquired", "timestamp_subscribed", "timestamp_unsubscribed")
    c.string_list("store_ids")
    c.obj_field("properties")
    c.booleans("@force_optin", "@merge")
    _list_ids(c, "@add_to_lists")
    _list_ids(c, "@remove_from_lists")
    if c.obj_field("channels") and c.sub("channels").obj_field("sms"):
        sms = c.sub("channels", "sms")
        sms.booleans("allow_marketing", "allow_transactional")
        sms.datetimes("dt_updated_marketing", "dt_updated_transactional")
    return c.errors


def _lineitem(c: FieldChecker, strict_required: bool, product_exists: Callable[[str], bool]) -> None:
    c.string("product_id", required=strict_required, non_empty=True)
    product_id = c.obj.get("product_id")
    if isinstance(product_id, str) and product_id and not product_exists(product_id):
        c.add("product_id", "unknown product")
    c.check(
        "quantity", lambda v: isinstance(v, int) and not isinstance(v, bool), "must be an integer",
        required=strict_required,
    )  # fmt: skip
    if strict_required and c.obj.get("unit_price") is None and c.obj.get("subtotal") is None:
        c.add("unit_price", "one of unit_price or subtotal is required")
    c.numbers("unit_price", "subtotal", "quantity_refunded", "refunded", "tax", "total", "discount")
    c.strings("variant_id", "sku")
    c.boolean("is_on_sale")
    c.obj_field("properties")
    c.obj_field("totals")
    if c.list_field("variant_options"):
        for i, option in enumerate(c.obj["variant_options"]):
            if not isinstance(option, dict):
                c.add(("variant_options", i), "must be an object")
                continue
            opt = c.sub("variant_options", i)
            for key in ("id", "type", "label"):
                opt.check(key, lambda v: isinstance(v, (str, int)) and not isinstance(v, bool),
                          "must be a string or number", required=True)  # fmt: skip


def validate_order(
    record: dict[str, Any], *, strict_required: bool = True, product_exists: Callable[[str], bool] = lambda _: True
) -> Errors:
    c = FieldChecker(record)
    _record_id(c)
    c.datetime("timestamp", required=strict_required)
    c.number("grand_total", required=strict_required)
    c.check("currency", lambda v: isinstance(v, str) and CURRENCY.match(v) is not None,
            "must be an ISO 4217 currency code", required=strict_required)  # fmt: skip
    c.numbers("subtotal", "discount", "shipping", "tax")
    c.strings("status", "web_id", "ip_address", "channel", "store", "payment_method", "shipping_method",
              "coupon_code")  # fmt: skip
    c.boolean("is_valid")
    c.boolean("@merge")
    c.obj_field("properties")
    if c.obj_field("customer"):
        c.sub("customer").strings("id", "email", "firstname", "lastname")
    for address in ("shipping_address", "billing_address"):
        if c.obj_field(address):
            c.sub(address).strings("city", "state", "postcode", "country_code")
    if c.list_field("lineitems"):
        for i, item in enumerate(record["lineitems"]):
            if not isinstance(item, dict):
                c.add(("lineitems", i), "must be an object")
            else:
                _lineitem(c.sub("lineitems", i), strict_required, product_exists)
    return c.errors


def validate_product(record: dict[str, Any], *, strict_required: bool = True) -> Errors:
    c = FieldChecker(record)
    _record_id(c)
    c.strings("title", "sku", "url", "image_url", "parent_id")
    c.numbers("price", "special_price")
    c.date_or_datetime("special_price_dt_from")
    c.date_or_datetime("special_price_dt_to")
    c.booleans("is_active", "is_in_stock", "is_variant", "@merge")
    c.string_list("stores")
    if c.list_field("attributes"):
        for i, attribute in enumerate(record["attributes"]):
            if not isinstance(attribute, dict):
                c.add(("attributes", i), "must be an object")
                continue
            a = c.sub("attributes", i)
            a.string("type", required=True, non_empty=True)
            a.string("label", required=True)
            if attribute.get("id") is None and attribute.get("value") is None:
                a.add("id", "one of id or value is required")
    return c.errors


def validate_custom_event(
    record: dict[str, Any], *, strict_required: bool = True, known_event_types: Iterable[str] | None = None
) -> Errors:
    c = FieldChecker(record)
    _record_id(c)
    c.string("event_type", required=True, non_empty=True)
    event_type = record.get("event_type")
    if known_event_types is not None and isinstance(event_type, str) and event_type:
        if event_type not in set(known_event_types):
            c.add("event_type", "unknown event type (not configured for this account)")
    c.datetime("timestamp", required=strict_required, require_offset=True)
    c.check("identity_email", is_email, "not a valid email address")
    c.strings("identity_account_id", "profile_id")
    if strict_required and record.get("identity_email") is None and record.get("identity_account_id") is None:
        c.add("identity_email", "one of identity_email or identity_account_id is required")
    if c.obj_field("properties"):
        for key, value in record["properties"].items():
            if isinstance(value, str) and len(value) > MAX_EVENT_STRING_PROPERTY_CHARS:
                c.add(("properties", key), f"string property longer than {MAX_EVENT_STRING_PROPERTY_CHARS} chars")
    return c.errors


def validate_record(
    record: dict[str, Any],
    *,
    strict_required: bool = True,
    known_event_types: Iterable[str] | None = None,
    product_exists: Callable[[str], bool] = lambda _: True,
) -> Errors:
    """Validate one record of any push type; an unknown ``@type`` is itself an error."""
    record_type = record.get("@type")
    if record_type == "contact":
        return validate_contact(record, strict_required=strict_required)
    if record_type == "order":
        return validate_order(record, strict_required=strict_required, product_exists=product_exists)
    if record_type == "product":
        return validate_product(record, strict_required=strict_required)
    if record_type == "custom_event":
        return validate_custom_event(record, strict_required=strict_required, known_event_types=known_event_types)
    return [("root > @type", "not a valid value")]


__all__ = [
    "RECORD_TYPES", "looks_like_pii", "validate_contact", "validate_custom_event", "validate_order",
    "validate_product", "validate_record",
]  # fmt: skip
