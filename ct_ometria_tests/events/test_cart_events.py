"""Cart activity through the real cart sensor and Dagster runs: snapshots diffed into events."""

from __future__ import annotations

from dagster import SkipReason

SENSOR = "commercetools_carts_sensor"


def events(sandbox) -> list[dict]:
    return sorted(sandbox.records("custom_event"), key=lambda e: e["id"])


def run(tick):
    answer, result = tick(SENSOR)
    assert result is not None and result.success, answer
    return result


def test_a_cart_that_gains_two_items_changes_a_quantity_and_reaches_checkout(emulator, sandbox, shop, tick):
    shirt, mug = shop.product("shirt", 2500), shop.product("mug", 900)
    customer = shop.customer("ann@example.com")
    cart = shop.cart(customerEmail="Ann@Example.com", customerId=customer["id"], locale="en-GB")

    cart = shop.add(cart, shirt, 1)
    run(tick)
    cart = shop.add(cart, mug, 2)
    run(tick)
    shirt_line = next(line["id"] for line in cart["lineItems"] if line["productId"] == shirt["id"])
    cart = shop.ct.update("carts", cart["id"], {"action": "changeLineItemQuantity", "lineItemId": shirt_line, "quantity": 3})
    cart = shop.ct.update("carts", cart["id"], {"action": "changeLineItemQuantity", "lineItemId": shirt_line, "quantity": 2})
    run(tick)
    shop.ct.update("carts", cart["id"], {"action": "setShippingAddress", "address": {"country": "GB", "city": "Leeds"}})
    run(tick)
    answer, result = tick(SENSOR)
    assert isinstance(answer, SkipReason) and result is None

    sent = events(sandbox)
    summary = sorted((e["event_type"], e["properties"].get("product_id"), e["properties"].get("quantity"),
                      e["properties"].get("line_quantity")) for e in sent)  # fmt: skip
    # Shirt 1 -> 3 -> 2 between two polls: the poll sees 2, one unit more than before.
    assert summary == [
        ("add_to_cart", "mug", 2, 2),
        ("add_to_cart", "shirt", 1, 1),
        ("add_to_cart", "shirt", 1, 2),
        ("checkout_started", None, None, None),
    ]
    for event in sent:
        assert event["identity_email"] == "ann@example.com"
        assert event["identity_account_id"] == customer["id"]
        assert event["properties"]["currency"] == "GBP" and event["properties"]["locale"] == "en-GB"
        assert event["properties"]["cart_id"] == cart["id"]
    [checkout] = [e for e in sent if e["event_type"] == "checkout_started"]
    assert checkout["properties"]["product_ids"] == ["mug", "shirt"] and checkout["properties"]["total"] == 68.0
    mug_event = next(e for e in sent if e["properties"].get("product_id") == "mug")
    assert mug_event["properties"]["unit_price"] == 9.0 and mug_event["properties"]["sku"] == "MUG-1"
    # Each event went once.
    pushed = [i for r in sandbox.requests() if r["type"] == "custom_event" for i in r["record_ids"]]
    assert sorted(pushed) == sorted(e["id"] for e in sent)


def test_an_anonymous_carts_events_wait_for_an_identity(emulator, sandbox, shop, tick, event_store):
    shirt = shop.product("shirt")
    cart = shop.add(shop.cart(anonymousId="visitor-1"), shirt, 1)
    result = run(tick)
    assert sandbox.records("custom_event") == []
    metadata = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert metadata["events_held_anonymous"] == 1 and metadata["events_sent"] == 0

    shop.ct.update("carts", cart["id"], {"action": "setCustomerEmail", "email": "late@example.com"})
    run(tick)
    [event] = sandbox.records("custom_event")
    assert (event["event_type"], event["identity_email"]) == ("add_to_cart", "late@example.com")
    assert event_store.counts(["cart"]) == {"sent": 1}
