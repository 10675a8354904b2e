"""The event rules on their own: message plans, cart diffs, custom-event records, storefront parsing."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ct_ometria.config import MappingConfig
from ct_ometria.events.carts import diff_cart
from ct_ometria.events.collector import parse_events
from ct_ometria.events.custom import event_record
from ct_ometria.events.messages import CONTACT, CUSTOMER_DELETED, ORDER, plan_messages
from ct_ometria.ledger.events import EventStore
from ct_ometria.ledger.store import Ledger
from ct_ometria.mapping.common import InvalidField


@pytest.fixture
def store(tmp_path) -> EventStore:
    return EventStore(Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"))


def message(message_id: str, kind: str, resource: str, sequence: int, version: int, type_id: str = "order") -> dict:
    return {"id": message_id, "type": kind, "resource": {"typeId": type_id, "id": resource}, "sequenceNumber": sequence,
            "resourceVersion": version, "createdAt": f"2026-11-27T10:00:0{sequence}.000Z"}  # fmt: skip


def test_a_plan_drops_duplicates_orders_by_sequence_and_drops_what_is_older_than_the_version_acted_on(store):
    created = message("m1", "OrderCreated", "o1", 1, 1)
    cancelled = message("m2", "OrderStateChanged", "o1", 2, 2)
    plan = plan_messages([cancelled, created, cancelled, created], store)
    assert (plan.read, plan.duplicates, plan.stale, plan.acted_on) == (4, 2, 0, 2)
    assert [m["id"] for m in plan.messages] == ["m1", "m2"]
    assert plan.effects[ORDER] == ["o1"] and plan.resources["order"]["o1"] == (2, 2)

    store.mark_processed(plan.messages, {("order", "o1"): (5, 2)})
    late = message("m3", "OrderShipmentStateChanged", "o1", 3, 4)  # older than version 5, already acted on
    again = plan_messages([created, late], store)
    assert (again.duplicates, again.stale, again.acted_on) == (1, 1, 0)
    assert not any(again.effects.values())


def test_a_plan_notes_sequence_gaps_and_a_deleted_customer_is_not_refreshed(store):
    plan = plan_messages([message("a", "CustomerCreated", "c1", 1, 1, "customer"),
                          message("b", "CustomerEmailChanged", "c1", 3, 3, "customer"),
                          message("c", "CustomerDeleted", "c1", 4, 3, "customer")], store)  # fmt: skip
    assert plan.gaps == ["customer c1: sequence numbers [1, 3, 4]"]
    assert plan.effects[CONTACT] == [] and plan.effects[CUSTOMER_DELETED] == ["c1"]


def cart(version: int, lines: list[tuple[str, str, int]], **fields) -> dict:
    return {"id": "cart-1", "version": version, "lastModifiedAt": "2026-11-27T10:00:00.000Z",
            "totalPrice": {"currencyCode": "GBP", "centAmount": 5000, "fractionDigits": 2},
            "lineItems": [{"id": line_id, "productId": f"p-{key}", "productKey": key, "quantity": quantity,
                           "variant": {"id": 1, "sku": f"{key.upper()}-1"},
                           "price": {"value": {"currencyCode": "GBP", "centAmount": 1000, "fractionDigits": 2}}}
                          for line_id, key, quantity in lines], **fields}  # fmt: skip


def test_a_cart_diff_emits_units_added_and_checkout_once():
    first = diff_cart(cart(2, [("l1", "shirt", 1)], customerEmail="a@example.com"), None, "key")
    assert [(e.event_type, e.draft["properties"]["quantity"]) for e in first.events] == [("add_to_cart", 1)]
    snapshot = {"version": 2, "lines": first.lines, "checkout_started": False}
    second = diff_cart(cart(5, [("l1", "shirt", 1), ("l2", "mug", 3)], customerEmail="a@example.com",
                            shippingAddress={"country": "GB"}), snapshot, "key")  # fmt: skip
    assert sorted(e.event_type for e in second.events) == ["add_to_cart", "checkout_started"]
    snapshot = {"version": 5, "lines": second.lines, "checkout_started": True}
    fewer = diff_cart(cart(6, [("l2", "mug", 1)], customerEmail="a@example.com", cartState="Frozen"), snapshot, "key")
    assert fewer.events == []


@pytest.mark.parametrize("key", ["shirt\u202e", " shirt", "s" * 300])
def test_a_cart_line_whose_product_cannot_be_an_ometria_id_names_the_field(key):
    with pytest.raises(InvalidField) as raised:
        diff_cart(cart(2, [("l1", key, 1)], customerEmail="a@example.com"), None, "key")
    assert raised.value.field == "cart cart-1 lineItems.0.productKey"


def test_by_sku_a_cart_line_without_a_sku_is_its_product_as_an_order_line_is():
    line = {"id": "l1", "productId": "p-shirt", "productKey": "shirt", "quantity": 1, "variant": {"id": 1},
            "price": {"value": {"currencyCode": "GBP", "centAmount": 1000, "fractionDigits": 2}}}  # fmt: skip
    change = diff_cart({**cart(2, [], customerEmail="a@example.com"), "lineItems": [line]}, None, "sku")
    assert change.lines["l1"]["variant_id"] == change.lines["l1"]["product_id"]


def test_an_anonymous_carts_events_are_held():
    change = diff_cart(cart(1, [("l1", "shirt", 2)], anonymousId="v-1"), None, "key")
    assert [e.held for e in change.events] == [True]


CONFIG = MappingConfig()


def draft(**fields) -> dict:
    return {"event_id": "e-1", "event_type": "product_viewed", "occurred_at": "2026-11-27T10:00:00+01:00",
            "email": " Ann@Example.com ", "properties": {"product_id": "shirt"}, **fields}  # fmt: skip


def test_a_custom_event_record_carries_identity_store_and_an_offset_timestamp():
    record = event_record(draft(customer="c1", store="uk", currency="GBP"), {}, {"c1": "C-0001"}, CONFIG)
    assert record["identity_email"] == "ann@example.com" and record["identity_account_id"] == "C-0001"
    assert record["timestamp"] == "2026-11-27T09:00:00+00:00"
    assert record["properties"] == {"product_id": "shirt", "store": "uk", "currency": "GBP"}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"email": None}, "identity: needs an email or a customer id"),
     ({"email": "nope"}, "email: not a valid email address"),
     ({"event_id": "ann@example.com"}, "event_id: missing or looks like personal data"),
     ({"occurred_at": "2026-11-27T10:00:00"}, "occurred_at: has no UTC offset"),
     ({"properties": {"note": "x" * 513}}, "properties.note: longer than 512 characters"),
     ({"properties": {"nested": {"a": 1}}}, "properties.nested: must be a string, number, boolean or list of product ids"),
     ({"customer": "gone", "email": None}, "customer: no such commercetools customer")],
)  # fmt: skip
def test_a_custom_event_that_ometria_cannot_hold_names_its_field(fields, reason):
    with pytest.raises(InvalidField) as error:
        event_record(draft(**fields), {}, {}, CONFIG)
    assert str(error.value) == reason


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=50), st.dictionaries(st.text(max_size=10),
       st.one_of(st.none(), st.integers(), st.text(max_size=600), st.lists(st.integers(), max_size=3)), max_size=5)),
       max_size=5))  # fmt: skip
def test_the_collector_parses_any_body_into_valid_events_and_named_errors(items):
    valid, errors = parse_events(items, CONFIG)
    assert len(valid) + len({e["index"] for e in errors}) <= max(len(items), 1)
    for error in errors:
        assert set(error) == {"index", "field", "message"} and error["message"]
    for event in valid:
        assert event.draft["email"] or event.draft["customer"]


def test_the_collector_accepts_a_valid_event_and_refuses_a_future_one():
    now = dt.datetime.now(dt.timezone.utc)
    good = {"event_id": "v1", "type": "search", "email": "a@example.com", "occurred_at": now.isoformat()}
    future = {**good, "event_id": "v2", "occurred_at": (now + dt.timedelta(hours=1)).isoformat()}
    valid, errors = parse_events([good, future], CONFIG)
    assert [e.event_id for e in valid] == ["sf-v1"]
    assert errors == [{"index": 1, "field": "occurred_at", "message": "Value error, is in the future"}]
