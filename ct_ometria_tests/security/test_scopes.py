"""The project reads commercetools with the read-only scopes it documents, and only those.

Every GET the project makes during a sync (consent from custom fields, custom objects and a
suppression list; orders with payments and discount codes; products with categories) and during
the event runs (Messages, carts) is recorded on its way to the emulator, mapped to the scope that
grants it, and the union must be exactly ``READ_SCOPES``: a scope nothing needs is privilege given
away, an endpoint without a scope would fail in production. The README must name exactly those.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.scopes import READ_SCOPES, scope_string, scopes_of_request
from ct_ometria_tests.events.conftest import shop, tick  # noqa: F401  (fixtures)
from ct_ometria_tests.pipeline import commerce_data as data
from ct_ometria_tests.pipeline.conftest import mapping_file, resources, run_all  # noqa: F401  (fixtures)
from ct_ometria_tests.pipeline.test_consents import CONSENT_TYPE, custom, custom_object

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {**data.MAPPING, "consent": {
    "email_optin_field": "newsletterOptIn", "custom_object_container": "consents",
    "suppression": {"custom_object_container": "suppressed-emails", "customer_groups": ["blocked"]},
}}  # fmt: skip


@pytest.fixture
def requests(monkeypatch) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every GET the project's commercetools client makes, as (path, params), passed on to the emulator."""
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    original = CommercetoolsClient.get

    def get(self, path, params=()):
        seen.append((path, list(params.items()) if isinstance(params, Mapping) else list(params)))
        return original(self, path, params)

    monkeypatch.setattr(CommercetoolsClient, "get", get)
    return seen


def seed_a_shop_that_uses_every_source(emulator) -> None:
    data.seed(emulator)
    paid = data.order("order-p", "ORD-P", [data.line("p1", data.TEE, 0, 1, 1999, 1999)], 1999)
    paid["paymentInfo"] = {"payments": [{"typeId": "payment", "id": "pay-1"}]}
    emulator.seed(
        type=[CONSENT_TYPE],
        **{"customer-group": [{"id": "grp-1", "version": 1, "key": "blocked", "name": "Blocked",
                               "createdAt": data.STAMP, "lastModifiedAt": data.STAMP}]},
        customer=[{**data.CUSTOMERS[0], "id": "cust-g", "email": "grouped@example.com",
                   "customerGroup": {"typeId": "customer-group", "id": "grp-1"}, **custom({"newsletterOptIn": True})}],
        payment=[{"id": "pay-1", "version": 1, "amountPlanned": data.money(1999), "interfaceInteractions": [],
                  "paymentStatus": {}, "createdAt": data.STAMP, "lastModifiedAt": data.STAMP,
                  "transactions": [{"id": "t-1", "type": "Refund", "amount": data.money(500), "state": "Success"}]}],
        order=[paid],
        **{"key-value-document": [
            custom_object("co-1", "cust-1", {"newsletterOptIn": False}, data.STAMP),
            {"id": "sup-1", "version": 1, "container": "suppressed-emails", "key": "sup-1",
             "value": {"email": "listed@example.com"}, "createdAt": data.STAMP, "lastModifiedAt": data.STAMP},
        ]},
    )  # fmt: skip


def test_a_sync_and_the_event_runs_need_exactly_the_documented_read_scopes(
    emulator, sandbox, resources, run_all, mapping_file, shop, tick, requests  # noqa: F811
):
    project = emulator.project_key
    minimal = resources["commercetools"].model_copy(update={"scopes": scope_string(project)})
    resources["commercetools"] = minimal  # the token asks for these scopes only
    seed_a_shop_that_uses_every_source(emulator)
    result = run_all(data.DAY, mapping=mapping_file(CONFIG), commercetools=minimal)
    assert result.success

    # Near-real-time: Messages (an order, a refund through a payment, a customer) and a cart.
    product = shop.product("shirt")
    customer = shop.customer("ann@example.com")
    order = shop.order(product, "ann@example.com", customer)
    shop.payment_refund(order, 500)
    shop.add(shop.cart(customerEmail="ann@example.com", customerId=customer["id"]), product, 1)
    for sensor in ("commercetools_messages_sensor", "commercetools_carts_sensor"):
        _, run = tick(sensor)
        assert run is not None and run.success, sensor

    endpoints = {path.strip("/").split("/")[0] for path, _ in requests}
    assert {"", "customers", "orders", "carts", "products", "categories", "discount-codes", "payments", "stores",
            "types", "custom-objects", "messages"} <= endpoints, endpoints  # fmt: skip
    needed = set().union(*(scopes_of_request(path, params) for path, params in requests))
    assert needed == set(READ_SCOPES)
    assert all(scope.startswith("view_") for scope in READ_SCOPES)


def test_the_scope_string_names_each_scope_for_the_project():
    assert scope_string("shop-eu").split() == [f"{scope}:shop-eu" for scope in READ_SCOPES]


def test_the_readme_names_exactly_the_scopes_the_project_needs():
    """Every ``view_*`` scope the README names is one the project needs, and each one it needs is named."""
    named = set(re.findall(r"\bview_[a-z_]+\b", (ROOT / "README.md").read_text()))
    assert named == set(READ_SCOPES), f"missing: {sorted(set(READ_SCOPES) - named)}, extra: {sorted(named - set(READ_SCOPES))}"
