"""commercetools Messages through the real sensor and a real Dagster run of the message job.

Every mapped message type is produced by a real update action on the emulator, then delivered twice
and in reverse order; each must have exactly one correct effect in the sandbox."""

from __future__ import annotations

import hashlib
from collections import Counter

from dagster import SkipReason

from ct_ometria.defs.events import MESSAGES_CURSOR
from ct_ometria_tests.events.shop import CONSENT_MAPPING

SENSOR = "commercetools_messages_sensor"


def sends(sandbox, record_type: str, since: int = 0) -> Counter:
    """How many times each record id was pushed, in requests after the first ``since``."""
    counted: Counter = Counter()
    for request in sandbox.requests()[since:]:
        if request["type"] == record_type and request["status"] == 202:
            counted.update(request["record_ids"])
    return counted


def materialization(result, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_every_message_type_delivered_twice_and_out_of_order_has_exactly_one_effect(
    emulator, sandbox, shop, tick, ledger, mapping_file
):  # fmt: skip
    mapping = mapping_file(CONSENT_MAPPING)
    shop.consent_type()
    shirt, mug, cap = shop.product("shirt"), shop.product("mug", 900), shop.product("cap", 1200)
    ann = shop.customer("ann@example.com", optin=True)
    bob = shop.customer("bob@example.com", optin=True)
    erin = shop.customer("Erin@Example.com")
    cancelled = shop.order(shirt, "ann@example.com", ann, number="1001")
    returned = shop.order(shirt, "ann@example.com", ann, number="1002")
    paid_back = shop.order(mug, "guest@example.com", number="1003")
    shipped = shop.order(cap, "bob@example.com", bob, number="1004")

    answer, result = tick(SENSOR, mapping)
    assert result is not None and result.success, answer
    first = materialization(result, "ometria_message_events")
    assert first["acted_on"] == 10 and first["duplicates_dropped"] == 0
    assert {r["id"] for r in sandbox.records("order")} == {cancelled["id"], returned["id"], paid_back["id"], shipped["id"]}
    assert sandbox.get(f"records/contact/{ann['id']}")["marketing_optin"] == "EXPLICITLY_OPTEDIN"
    before = len(sandbox.requests())

    # One change per mapped message type, then at-least-once, unordered delivery.
    shop.ct.update("orders", cancelled["id"], {"action": "changeOrderState", "orderState": "Cancelled"})
    shop.refund_return(returned)  # ReturnInfoAdded, OrderReturnItemPaymentStateChanged
    shop.payment_refund(paid_back, 1800)  # PaymentTransactionAdded (Refund)
    shop.ct.update("orders", shipped["id"], {"action": "changeShipmentState", "shipmentState": "Shipped"})
    imported = shop.imported_order(mug, "carol@example.com")  # OrderImported
    shop.ct.update("customers", ann["id"], {"action": "changeEmail", "email": "ann.lee@example.com"})
    shop.ct.update("customers", bob["id"], {"action": "setCustomField", "name": "newsletterOptIn", "value": False})
    dana = shop.customer("dana@example.com")  # CustomerCreated
    shop.ct.update("products", shirt["id"], {"action": "unpublish"})
    shop.ct.update("products", mug["id"], {"action": "changeName", "name": {"en-GB": "Big Mug"}}, {"action": "publish"})
    shop.ct.delete("products", cap["id"])
    shop.ct.delete("customers", erin["id"])  # a data-deletion request, by the hash of the email Ometria holds
    emulator.message_delivery(duplicate=True, reverse=True)

    answer, result = tick(SENSOR, mapping)
    assert result is not None and result.success, answer
    second = materialization(result, "ometria_message_events")
    assert second["duplicates_dropped"] >= second["acted_on"] > 0

    orders = {r["id"]: r for r in sandbox.records("order")}
    assert (orders[cancelled["id"]]["status"], orders[cancelled["id"]]["is_valid"]) == ("cancelled", False)
    assert orders[returned["id"]]["lineitems"][0]["quantity_refunded"] == 1
    assert orders[returned["id"]]["properties"]["returned_units"] == 1
    assert orders[paid_back["id"]]["properties"]["refunded_amount"] == 18.0
    assert (orders[paid_back["id"]]["status"], orders[paid_back["id"]]["is_valid"]) == ("refunded", False)
    assert orders[shipped["id"]]["status"] == "shipped"
    assert orders[imported["id"]]["status"] == "complete"
    contacts = {r["id"]: r for r in sandbox.records("contact")}
    assert contacts[ann["id"]]["email"] == "ann.lee@example.com"
    assert contacts[bob["id"]]["marketing_optin"] == "EXPLICITLY_OPTEDOUT"
    assert contacts[dana["id"]]["email"] == "dana@example.com" and "marketing_optin" not in contacts[dana["id"]]
    products = {r["id"]: r for r in sandbox.records("product")}
    assert products["shirt"]["is_active"] is False and products["cap"]["is_active"] is False
    assert products["mug"]["is_active"] is True and products["mug"]["title"] == "Big Mug"
    [deletion] = httpx_get(sandbox, "/v2/data-deletion-requests")
    assert deletion["identities"] == [{"hashed_email": hashlib.sha256(b"erin@example.com").hexdigest()}]

    # Exactly one push of each affected record, though every message came twice and backwards.
    changed_orders = {cancelled["id"], returned["id"], paid_back["id"], shipped["id"], imported["id"]}
    assert sends(sandbox, "order", before) == Counter({i: 1 for i in changed_orders})
    assert sends(sandbox, "contact", before) == Counter({ann["id"]: 1, bob["id"]: 1, dana["id"]: 1})
    product_sends = sends(sandbox, "product", before)
    assert (product_sends["shirt"], product_sends["cap"], product_sends["mug"]) == (1, 1, 1)

    # Nothing new: the next tick launches nothing; re-reading an old window changes nothing.
    answer, result = tick(SENSOR, mapping)
    assert isinstance(answer, SkipReason) and result is None
    ledger.set_cursor(MESSAGES_CURSOR, "2020-01-01T00:00:00.000Z")
    requests = len(sandbox.requests())
    answer, result = tick(SENSOR, mapping)
    assert result is not None and result.success
    assert len(sandbox.requests()) == requests
    assert materialization(result, "ometria_message_events")["resynced_by_window"] is True


def httpx_get(sandbox, path: str):
    import httpx

    response = httpx.get(f"{sandbox.base_url}{path}", headers={"X-Ometria-Auth": sandbox.api_key}, timeout=10)
    response.raise_for_status()
    return response.json()


def test_a_consent_opt_out_reaches_ometria_through_the_sensor(emulator, sandbox, shop, tick, mapping_file):
    mapping = mapping_file(CONSENT_MAPPING)
    shop.consent_type()
    ann = shop.customer("ann@example.com", optin=True)
    tick(SENSOR, mapping)
    assert sandbox.get(f"records/contact/{ann['id']}")["marketing_optin"] == "EXPLICITLY_OPTEDIN"
    shop.ct.update("customers", ann["id"], {"action": "setCustomField", "name": "newsletterOptIn", "value": False})
    answer, result = tick(SENSOR, mapping)
    assert result is not None and result.success, answer
    assert sandbox.get(f"records/contact/{ann['id']}")["marketing_optin"] == "EXPLICITLY_OPTEDOUT"


def test_a_cursor_behind_the_retention_says_so_and_re_syncs_by_window(emulator, sandbox, shop, tick, ledger):
    shirt = shop.product("shirt")
    ann = shop.customer("ann@example.com")
    tick(SENSOR)
    shop.ct.update("customers", ann["id"], {"action": "setFirstName", "firstName": "Annie"})
    shop.ct.update("products", shirt["id"], {"action": "unpublish"})
    # The messages of those changes are gone, and the cursor is 20 days old.
    emulator.expire_messages("2100-01-01T00:00:00.000Z")
    ledger.set_cursor(MESSAGES_CURSOR, "2026-01-01T00:00:00.000Z")
    answer, result = tick(SENSOR)
    assert answer.tags == {"ct_ometria/behind_retention": "true"}
    assert result is not None and result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["messages_within_retention"].passed is False
    assert "re-synced by window" in checks["messages_within_retention"].description
    assert sandbox.get(f"records/contact/{ann['id']}")["firstname"] == "Annie"
    assert sandbox.get("records/product/shirt")["is_active"] is False
    assert materialization(result, "ometria_message_events")["resynced_by_window"] is True
    # The cursor moved past the lost stretch: the next tick is quiet.
    answer, result = tick(SENSOR)
    assert isinstance(answer, SkipReason)


def test_deletion_requests_beyond_ometrias_six_per_minute_wait_for_the_next_run(
    emulator, sandbox, shop, tick, event_store
):  # fmt: skip
    people = [shop.customer(f"p{i}@example.com") for i in range(8)]
    tick(SENSOR)
    for person in people:
        shop.ct.delete("customers", person["id"])
    answer, result = tick(SENSOR)
    assert result is not None and result.success
    assert materialization(result, "ometria_message_events")["deletion_requests"] == {"queued": 8, "sent": 6, "waiting": 2}
    assert len(httpx_get(sandbox, "/v2/data-deletion-requests")) == 6
    statuses = Counter(d["status"] for d in event_store.deletions())
    assert statuses == Counter({"sent": 6, "pending": 2})
    # No new message: the sensor still launches a run for the waiting requests, which keeps within
    # the minute's allowance (counted from the ledger, across runs) and sends none yet.
    answer, result = tick(SENSOR)
    assert answer.run_key.startswith("deletions-") and result.success
    assert materialization(result, "ometria_message_events")["deletion_requests"] == {"waiting": 2}
    assert len(httpx_get(sandbox, "/v2/data-deletion-requests")) == 6
