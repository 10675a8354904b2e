"""Per-record validation rules (§8 rules 15-18), tested as pure functions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ct_ometria.ometria.sandbox.checks import is_iso_datetime
from ct_ometria.ometria.sandbox.rules import (
    validate_contact,
    validate_custom_event,
    validate_order,
    validate_product,
    validate_record,
)

from .conftest import VALID


def _with(record_type: str, dotted: str, value: Any) -> dict[str, Any]:
    """Valid record with ``dotted`` (e.g. ``channels.sms.allow_marketing``) set; ``...`` deletes it."""
    record = copy.deepcopy(VALID[record_type])
    *parents, leaf = dotted.split(".")
    node: Any = record
    for part in parents:
        key: Any = int(part) if part.isdigit() else part
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            node = node[key]
    if value is ...:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return record


def _validate(record: dict[str, Any], **kw: Any) -> list[tuple[str, str]]:
    return validate_record(record, product_exists=lambda pid: pid == "sku-1", **kw)


@pytest.mark.parametrize("record_type", ["contact", "order", "product", "custom_event"])
def test_base_records_are_valid(record_type: str) -> None:
    assert _validate(copy.deepcopy(VALID[record_type])) == []


FIELD_CASES = [
    # (type, field, valid value, invalid value, expected error path)
    ("contact", "id", "contact-2", "jane@example.com", "root > id"),
    ("contact", "id", "c_447700900123x", "+44 7700 900123", "root > id"),
    ("contact", "id", "c-3", "", "root > id"),
    ("contact", "id", "c-4", 42, "root > id"),
    ("contact", "email", "j.doe+tag@example.co.uk", "not-an-email", "root > email"),
    ("contact", "customer_id", "cust-9", "jane@example.com", "root > customer_id"),
    ("contact", "marketing_optin", "EXPLICITLY_OPTEDOUT", True, "root > marketing_optin"),
    ("contact", "marketing_optin", "NOT_SPECIFIED", "OPTED_IN", "root > marketing_optin"),
    ("contact", "gender", "o", "female", "root > gender"),
    ("contact", "phone_number", "+447700900123", "07700 900123", "root > phone_number"),
    ("contact", "date_of_birth", "1990-02-28", "1990-02-30", "root > date_of_birth"),
    ("contact", "date_of_birth", "1990-02-28", "28/02/1990", "root > date_of_birth"),
    ("contact", "timestamp_acquired", "2018-04-19T09:00:00+00", "2018-04-19", "root > timestamp_acquired"),
    ("contact", "timestamp_subscribed", "2018-04-19T09:00:00Z", "19 April 2018", "root > timestamp_subscribed"),
    ("contact", "timestamp_unsubscribed", "2018-04-19T09:00:00+01:00", 1524128400, "root > timestamp_unsubscribed"),
    ("contact", "channels.sms.allow_marketing", True, "yes", "root > channels > sms > allow_marketing"),
    ("contact", "channels.sms.allow_transactional", False, 1, "root > channels > sms > allow_transactional"),
    ("contact", "channels.sms.dt_updated_marketing", "2024-01-01T00:00:00+00:00", "yesterday",
     "root > channels > sms > dt_updated_marketing"),
    ("contact", "channels.sms", {"allow_marketing": True}, "on", "root > channels > sms"),
    ("contact", "store_ids", ["uk/en", "fr/fr"], "uk/en", "root > store_ids"),
    ("contact", "store_ids", ["uk/en"], ["uk/en", 3], "root > store_ids > 1"),
    ("contact", "properties", {"tier": "gold"}, ["gold"], "root > properties"),
    ("contact", "@force_optin", True, "true", "root > @force_optin"),
    ("contact", "@merge", True, 1, "root > @merge"),
    ("contact", "@collection", "subscribers", "", "root > @collection"),
    ("contact", "favourite_colour", ..., "blue", "root > favourite_colour"),
    ("contact", "store_id", ..., "uk/en", "root > store_id"),
    ("order", "timestamp", "2024-05-01T10:00:00+02:00", "2024-05-01 10:00", "root > timestamp"),
    ("order", "timestamp", "2024-05-01T10:00:00.123Z", "01/05/2024", "root > timestamp"),
    ("order", "grand_total", 0, "19.00", "root > grand_total"),
    ("order", "grand_total", 19, True, "root > grand_total"),
    ("order", "currency", "EUR", "gbp", "root > currency"),
    ("order", "currency", "USD", "GB", "root > currency"),
    ("order", "subtotal", 10.0, "10", "root > subtotal"),
    ("order", "discount", 1, "1", "root > discount"),
    ("order", "shipping", 2.5, "free", "root > shipping"),
    ("order", "tax", 3, [3], "root > tax"),
    ("order", "status", "cancelled", 3, "root > status"),
    ("order", "is_valid", False, "false", "root > is_valid"),
    ("order", "customer", {"id": "cust-1", "email": "a@example.com"}, "cust-1", "root > customer"),
    ("order", "customer.email", "a@example.com", 5, "root > customer > email"),
    ("order", "shipping_address", {"city": "Leeds", "country_code": "GB"}, {"city": 5}, "root > shipping_address > city"),
    ("order", "billing_address", {"postcode": "LS1 1AA"}, {"state": False}, "root > billing_address > state"),
    ("order", "lineitems.0.quantity", 3, 2.0, "root > lineitems > 0 > quantity"),
    ("order", "lineitems.0.quantity", 1, True, "root > lineitems > 0 > quantity"),
    ("order", "lineitems.0.unit_price", 9, "9.50", "root > lineitems > 0 > unit_price"),
    ("order", "lineitems.0.product_id", "sku-1", "sku-unknown", "root > lineitems > 0 > product_id"),
    ("order", "lineitems.0.variant_options", [{"id": "v1", "type": "size", "label": "M"}],
     [{"id": "v1", "type": "size"}], "root > lineitems > 0 > variant_options > 0 > label"),
    ("order", "lineitems", [], "sku-1", "root > lineitems"),
    ("product", "is_active", False, "false", "root > is_active"),
    ("product", "is_in_stock", True, 1, "root > is_in_stock"),
    ("product", "is_variant", False, "no", "root > is_variant"),
    ("product", "price", 10, "10", "root > price"),
    ("product", "special_price", 7.5, "7.50", "root > special_price"),
    ("product", "attributes", [{"type": "category", "id": "c1", "label": "Mugs"}],
     [{"type": "category", "id": "c1"}], "root > attributes > 0 > label"),
    ("product", "attributes", [{"type": "colour", "value": "red", "label": "Red"}],
     [{"type": "colour", "label": "Red"}], "root > attributes > 0 > id"),
    ("product", "attributes", [{"type": "colour", "value": "red", "label": "Red"}],
     [{"id": "c1", "label": "Red"}], "root > attributes > 0 > type"),
    ("custom_event", "event_type", "basket_viewed", 7, "root > event_type"),
    ("custom_event", "timestamp", "2023-05-25T15:32:52Z", "2023-05-25T15:32:52", "root > timestamp"),
    ("custom_event", "identity_email", "x@example.com", "x-at-example", "root > identity_email"),
    ("custom_event", "properties.note", "x" * 512, "x" * 513, "root > properties > note"),
    ("custom_event", "properties", {"count": 3, "ok": True}, "note", "root > properties"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("record_type", "field", "good", "bad", "error_path"),
    FIELD_CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(FIELD_CASES)],
)
def test_field_rule(record_type: str, field: str, good: Any, bad: Any, error_path: str) -> None:
    assert _validate(_with(record_type, field, good)) == []
    errors = _validate(_with(record_type, field, bad))
    assert [p for p, _ in errors] == [error_path], errors


def test_pii_contact_id_message() -> None:
    errors = validate_contact(_with("contact", "id", "jane@example.com"))
    assert errors == [("root > id", "must not contain PII (looks like an email address or phone number)")]


def test_unknown_product_message() -> None:
    record = _with("order", "lineitems", [{"product_id": "nope", "quantity": 1, "subtotal": 3}])
    assert validate_order(record, product_exists=lambda _: False) == [
        ("root > lineitems > 0 > product_id", "unknown product")
    ]


def test_every_documented_contact_field_is_allowed() -> None:
    contact = {
        "@type": "contact", "@collection": "customers", "@force_optin": True, "@merge": True,
        "@add_to_lists": ["l1"], "@remove_from_lists": [2], "id": "c-9", "email": "j@example.com",
        "customer_id": "cust-9", "phone_number": "+447700900123", "prefix": "Ms", "firstname": "Jo",
        "middlename": "A", "lastname": "Doe", "gender": "f", "date_of_birth": "1990-01-01", "country_id": "GB",
        "timezone": "Europe/London", "store_ids": ["uk/en"], "marketing_optin": "EXPLICITLY_OPTEDIN",
        "timestamp_acquired": "2018-04-19T09:00:00+00", "timestamp_subscribed": "2018-04-19T09:00:00Z",
        "timestamp_unsubscribed": "2019-04-19T09:00:00+00:00",
        "channels": {"sms": {"allow_marketing": True, "allow_transactional": False,
                             "dt_updated_marketing": "2024-01-01T00:00:00Z",
                             "dt_updated_transactional": "2024-01-01T00:00:00+00:00"}},
        "properties": {"tier": "gold"},
    }  # fmt: skip
    assert validate_contact(contact) == []


def test_required_fields_in_strict_mode_only() -> None:
    bare = {"contact": {"id": "c"}, "order": {"id": "o"}, "custom_event": {"id": "e", "event_type": "x"}}
    expected = {
        "contact": {"root > email"},
        "order": {"root > timestamp", "root > grand_total", "root > currency"},
        "custom_event": {"root > timestamp", "root > identity_email"},
    }
    for record_type, fields in bare.items():
        record = {"@type": record_type, **fields}
        assert {p for p, _ in _validate(record)} == expected[record_type]
        assert _validate(record, strict_required=False) == []


def test_lineitem_needs_quantity_and_a_price() -> None:
    record = _with("order", "lineitems", [{"product_id": "sku-1"}])
    assert validate_order(record) == [
        ("root > lineitems > 0 > quantity", "required field missing"),
        ("root > lineitems > 0 > unit_price", "one of unit_price or subtotal is required"),
    ]
    assert validate_order(_with("order", "lineitems", [{"product_id": "sku-1", "quantity": 1, "subtotal": 2}])) == []


def test_ids_are_always_required() -> None:
    for record_type in ("contact", "order", "product", "custom_event"):
        record = _with(record_type, "id", ...)
        assert ("root > id", "required field missing") in _validate(record, strict_required=False)


def test_custom_event_identity_account_id_suffices_and_known_types() -> None:
    event = _with("custom_event", "identity_email", ...)
    event["identity_account_id"] = "cust-1"
    assert validate_custom_event(event) == []
    assert validate_custom_event(event, known_event_types=["wishlist_add"]) == []
    assert validate_custom_event(event, known_event_types=["other"]) == [
        ("root > event_type", "unknown event type (not configured for this account)")
    ]


def test_unknown_type_is_an_error() -> None:
    assert validate_record({"@type": "basket", "id": "b"}) == [("root > @type", "not a valid value")]


def test_product_rules_accept_minimal_product() -> None:
    assert validate_product({"@type": "product", "id": "p"}) == []


@pytest.mark.parametrize(
    ("value", "offset_required", "ok"),
    [
        ("2024-05-01T10:00:00+00:00", True, True),
        ("2024-05-01T10:00:00+0000", True, True),
        ("2024-05-01T10:00:00-05:30", True, True),
        ("2024-05-01T10:00:00Z", True, True),
        ("2024-05-01T10:00:00", True, False),
        ("2024-05-01T10:00:00", False, True),
        ("2024-13-01T10:00:00Z", False, False),
        ("2024-05-01T25:00:00Z", False, False),
        ("2024-05-01", False, False),
    ],
)
def test_iso_datetime(value: str, offset_required: bool, ok: bool) -> None:
    assert is_iso_datetime(value, require_offset=offset_required) is ok
