"""Storage semantics (§8 rules 12-14, 19), REST reads and inspection endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

OTHER = {"X-Ometria-Auth": "sandbox-test-key-B"}


def _push(client: Any, *records: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post("/v2/push", json=list(records), headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def _record(client: Any, record_type: str, record_id: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/__sandbox/records/{record_type}/{record_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_partial_record_merges_only_supplied_fields(client, valid) -> None:
    _push(client, valid("contact", lastname="Doe", properties={"tier": "gold"}))
    _push(client, {"@type": "contact", "id": "contact-1", "email": "jane@example.com", "lastname": "Smith"})
    assert _record(client, "contact", "contact-1") == {
        "@type": "contact",
        "@collection": "default",
        "id": "contact-1",
        "email": "jane@example.com",
        "firstname": "Jane",
        "lastname": "Smith",
        "marketing_optin": "EXPLICITLY_OPTEDIN",
        "properties": {"tier": "gold"},
    }
    assert client.get("/__sandbox/stats").json()["records"]["contact"] == 1


def test_merge_flag_copies_unset_fields_and_is_not_stored(client, valid) -> None:
    _push(client, valid("product", is_in_stock=True))
    _push(client, {"@type": "product", "id": "sku-1", "is_in_stock": False, "@merge": True})
    assert _record(client, "product", "sku-1") == {
        "@type": "product", "id": "sku-1", "title": "Mug", "price": 9.5, "is_active": True, "is_in_stock": False,
    }  # fmt: skip


def test_product_attributes_replaced_wholesale(client, valid) -> None:
    first = [{"type": "category", "id": "c1", "label": "Mugs"}, {"type": "colour", "value": "red", "label": "Red"}]
    _push(client, valid("product", attributes=first))
    second = [{"type": "colour", "value": "blue", "label": "Blue"}]
    _push(client, {"@type": "product", "id": "sku-1", "@merge": True, "attributes": second})
    stored = _record(client, "product", "sku-1")
    assert stored["attributes"] == second and stored["title"] == "Mug"


def test_cancelled_order_keeps_record_but_removes_revenue(client, valid) -> None:
    _push(client, valid("product"))
    _push(client, valid("order"), valid("order", id="order-2", grand_total=5.5))
    assert client.get("/__sandbox/stats").json()["revenue"] == {"GBP": 24.5}
    _push(client, {"@type": "order", "id": "order-1", "status": "cancelled", "is_valid": False})
    stats = client.get("/__sandbox/stats").json()
    assert stats["revenue"] == {"GBP": 5.5} and stats["records"]["order"] == 2
    order = _record(client, "order", "order-1")
    assert order["status"] == "cancelled" and order["is_valid"] is False and order["grand_total"] == 19.0


def test_order_with_unknown_product_is_rejected_async(client, valid) -> None:
    _push(client, valid("order"))  # sku-1 was never pushed
    errors = client.get("/v2/push/_errors").json()
    assert [(e["error_path"], e["error_message"]) for e in errors] == [
        ("root > lineitems > 0 > product_id", "unknown product")
    ]
    assert client.get("/v2/orders/order-1").status_code == 404


def test_products_queued_earlier_are_known_to_later_orders(make_client, valid) -> None:
    client = make_client(process_mode="manual")
    _push(client, valid("product"))
    _push(client, valid("order"))
    assert client.post("/__sandbox/process").json() == {"processed": 2, "stored": 2, "failed": 0}


def test_contacts_keyed_by_collection_and_id(client, valid) -> None:
    _push(client, valid("contact"))
    _push(client, valid("contact", **{"@collection": "subscribers", "firstname": "J"}))
    assert client.get("/v2/contacts/contact-1").json()["firstname"] == "Jane"
    assert client.get("/v2/contacts/contact-1", params={"collection": "subscribers"}).json()["firstname"] == "J"
    assert client.get("/v2/contacts/contact-1", params={"collection": "other"}).status_code == 404


def test_contact_control_fields_kept_as_meta(client, valid) -> None:
    _push(client, valid("contact", **{"@force_optin": True, "@add_to_lists": ["vip", "news"]}))
    _push(client, {"@type": "contact", "id": "contact-1", "email": "jane@example.com", "@remove_from_lists": ["news"]})
    stored = _record(client, "contact", "contact-1")
    assert not any(k in stored for k in ("@force_optin", "@add_to_lists", "@remove_from_lists", "@merge"))
    assert stored["marketing_optin"] == "EXPLICITLY_OPTEDIN"
    assert client.get("/__sandbox/contacts/contact-1/meta").json() == {"force_optin": True, "lists": ["vip"]}


def test_identity_conflict_ignores_identifier_owned_by_other_contact(client, valid) -> None:
    _push(client, valid("contact", customer_id="cust-1"))
    second = _push(client, valid("contact", id="contact-2", email="JANE@example.com", customer_id="cust-2"))
    stored = _record(client, "contact", "contact-2")
    assert "email" not in stored and stored["customer_id"] == "cust-2"
    assert client.get("/__sandbox/identity_conflicts").json() == [
        {
            "contact_id": "contact-2",
            "collection": "default",
            "field": "email",
            "value": "JANE@example.com",
            "owner_id": "contact-1",
            "request_id": second["request_id"],
        }
    ]
    assert _record(client, "contact", "contact-1")["email"] == "jane@example.com"
    # After contact-1 changes its email, the old address is free again.
    _push(client, {"@type": "contact", "id": "contact-1", "email": "jane.new@example.com"})
    _push(client, {"@type": "contact", "id": "contact-2", "email": "jane@example.com"})
    assert _record(client, "contact", "contact-2")["email"] == "jane@example.com"
    assert client.get("/__sandbox/stats").json()["identity_conflicts"] == 1


def test_custom_event_type_truncated_at_32(client, valid) -> None:
    _push(client, valid("custom_event", event_type="e" * 40))
    assert _record(client, "custom_event", "evt-1")["event_type"] == "e" * 32


def test_known_event_types(make_client, valid) -> None:
    client = make_client(known_event_types=["wishlist_add"])
    _push(client, valid("custom_event"), valid("custom_event", id="evt-2", event_type="other"))
    assert [r["id"] for r in client.get("/__sandbox/records", params={"type": "custom_event"}).json()] == ["evt-1"]
    assert client.get("/v2/push/_errors").json()[0]["error_path"] == "root > event_type"


def test_rest_reads(client, valid) -> None:
    _push(client, *[valid("product", id=f"p{i}") for i in range(12)])
    _push(client, valid("order", lineitems=[{"product_id": "p1", "quantity": 1, "unit_price": 19.0}]))
    assert client.get("/v2/products/p3").json() == valid("product", id="p3")
    assert client.get("/v2/orders/order-1").json()["grand_total"] == 19.0
    assert [p["id"] for p in client.get("/v2/products").json()] == [f"p{i}" for i in range(10)]
    page = client.get("/v2/products", params={"limit": 5, "offset": 10}).json()
    assert [p["id"] for p in page] == ["p10", "p11"]
    assert client.get("/v2/products", params={"limit": 251}).status_code == 400
    assert client.get("/v2/products", params={"limit": 250}).status_code == 200
    missing = client.get("/v2/products/nope")
    assert missing.status_code == 404 and missing.json()["status"] == 404


@pytest.mark.parametrize("path", ["/v2/products", "/v2/push/_errors", "/v2/orders/x", "/__sandbox/stats"])
def test_reads_need_auth(client, path: str) -> None:
    assert client.get(path, headers={"X-Ometria-Auth": "unknown"}).status_code == 403


def test_accounts_are_isolated(client, valid) -> None:
    _push(client, valid("product"))
    assert client.get("/v2/products/sku-1", headers=OTHER).status_code == 404
    assert client.get("/__sandbox/records", headers=OTHER).json() == []


def test_inspection_records_filter(client, valid) -> None:
    _push(client, valid("product"))
    _push(client, valid("contact"))
    assert [r["@type"] for r in client.get("/__sandbox/records").json()] == ["product", "contact"]
    assert client.get("/__sandbox/records", params={"type": "basket"}).status_code == 400
    assert client.get("/__sandbox/records/contact/contact-1", params={"collection": "x"}).status_code == 404


def test_partial_record_for_unknown_id_must_be_complete(client) -> None:
    _push(client, {"@type": "order", "id": "never-seen", "status": "cancelled", "is_valid": False})
    paths = sorted(e["error_path"] for e in client.get("/v2/push/_errors").json())
    assert paths == ["root > currency", "root > grand_total", "root > timestamp"]
    assert client.get("/v2/orders/never-seen").status_code == 404


class _CountingLock:
    """The account's lock, counting how often it is taken."""

    def __init__(self, lock: Any) -> None:
        self._lock, self.taken = lock, 0

    def __enter__(self) -> Any:
        self._lock.acquire()
        self.taken += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_processing_the_queue_lets_go_of_the_account_between_records(valid) -> None:
    # Arriving pushes take the account's lock on the server's event loop before they are counted
    # against the rate; holding it across a whole queue delayed and bunched their arrival stamps.
    from ct_ometria.ometria.sandbox import SandboxConfig
    from ct_ometria.ometria.sandbox.store import Account

    account = Account(SandboxConfig(api_keys=["k"], process_mode="manual"))
    account.enqueue([valid("contact", id=f"contact-{i}", email=f"c{i}@example.com") for i in range(5)], "req-1")
    account.lock = _CountingLock(account.lock)
    assert account.process() == {"processed": 5, "stored": 5, "failed": 0}
    assert account.lock.taken == 6  # once per record, and once to find the queue empty


ORDER_PUSHES = st.lists(st.tuples(st.integers(0, 4), st.decimals(0, 5000, places=2), st.sampled_from(["GBP", "EUR"]),
                                  st.sampled_from([True, False, None])), min_size=1, max_size=12)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(pushes=ORDER_PUSHES)
def test_the_stats_keep_counts_and_revenue_as_a_recount_of_the_stored_records_would(pushes) -> None:
    # The stats are kept as records are stored (an O(1) answer during a backfill); orders are replaced,
    # cancelled (is_valid false) and brought back in any order, and the answer is what counting every
    # stored record says.
    from ct_ometria.ometria.sandbox import SandboxConfig, create_app
    from ct_ometria_tests.sandbox.conftest import KEY, VALID, TestClient

    client = TestClient(create_app(SandboxConfig(api_keys=[KEY], push_rate_per_second=10_000)), headers={"X-Ometria-Auth": KEY})
    _push(client, VALID["product"])
    _push(client, VALID["contact"])
    for number, total, currency, is_valid in pushes:
        order = {**VALID["order"], "id": f"order-{number}", "grand_total": float(total), "currency": currency}
        order.pop("is_valid", None)  # left out, an update keeps what the order held (a cancellation too)
        if is_valid is not None:
            order["is_valid"] = is_valid
        _push(client, order)
    stats = client.get("/__sandbox/stats").json()
    stored = {kind: client.get("/__sandbox/records", params={"type": kind}).json()
              for kind in ("contact", "order", "product", "custom_event")}  # fmt: skip
    assert stats["records"] == {kind: len(records) for kind, records in stored.items()}
    expected: dict[str, float] = {}
    for order in stored["order"]:
        if order.get("is_valid") is not False:
            expected[order["currency"]] = expected.get(order["currency"], 0.0) + order["grand_total"]
    assert stats["revenue"].keys() == expected.keys()
    for currency, total in expected.items():
        assert stats["revenue"][currency] == pytest.approx(total, abs=1e-6)
