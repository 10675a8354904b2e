"""Acceptance of every entity: the sandbox holds exactly the Ometria records a two-store,
two-locale, two-currency dataset should give."""

import json
from decimal import Decimal

import pandas as pd
import pytest
from dagster import AssetKey

from ct_ometria_tests.pipeline import commerce_data as data

NL, UK = "shop.example.nl/nl", "shop.example.co.uk/en"
AMSTERDAM = {"city": "Amsterdam", "postcode": "1011AB", "country_code": "NL"}
ADA = {"id": "cust-1", "email": "ada@example.com"}
D = Decimal


def tee_image(sku: str) -> str:
    return f"https://img.example.com/{sku}.jpg"


EXPECTED_PRODUCTS = {
    "tee": {
        "@type": "product", "id": "tee", "title": "Shirt", "sku": "TEE-M", "url": "https://shop.example.nl/nl-NL/p/shirt",
        "image_url": tee_image("TEE-M"), "price": D("19.99"), "is_active": True, "is_variant": False,
        "stores": [NL, UK],
        "attributes": [{"type": "category", "id": "shirts", "label": "Kleding > Overhemden"},
                       {"type": "color", "id": "red", "label": "Rood"}],
        "listings": [
            {"store": NL, "title": "Shirt", "url": "https://shop.example.nl/nl-NL/p/shirt", "currency": "EUR",
             "price": D("19.99"), "image_url": tee_image("TEE-M"), "is_active": True},
            {"store": UK, "title": "Tee", "url": "https://shop.example.co.uk/p/tee", "currency": "GBP",
             "price": D("17.99"), "special_price": D("14.99"), "image_url": tee_image("TEE-M"), "is_active": True},
        ],
    },
    "TEE-M": {"@type": "product", "id": "TEE-M", "parent_id": "tee", "is_variant": True, "is_active": True, "sku": "TEE-M",
              "title": "Shirt", "image_url": tee_image("TEE-M"), "price": D("19.99"),
              "attributes": [{"type": "color", "id": "red", "label": "Rood"}]},
    "TEE-L": {"@type": "product", "id": "TEE-L", "parent_id": "tee", "is_variant": True, "is_active": True, "sku": "TEE-L",
              "title": "Shirt", "image_url": tee_image("TEE-L"), "price": D("21.99"),
              "attributes": [{"type": "color", "id": "blue", "label": "Blauw"}]},
    "mug": {
        "@type": "product", "id": "mug", "title": "Mok", "sku": "MUG-1", "image_url": tee_image("MUG-1"),
        "url": "https://shop.example.nl/nl-NL/p/mok", "price": D("12.50"), "special_price": D("10.00"),
        "is_active": True, "is_variant": False, "stores": [NL, UK],
        "listings": [
            {"store": NL, "title": "Mok", "url": "https://shop.example.nl/nl-NL/p/mok", "currency": "EUR",
             "price": D("12.50"), "special_price": D("10.00"), "image_url": tee_image("MUG-1"), "is_active": True},
            {"store": UK, "title": "Mug", "url": "https://shop.example.co.uk/p/mug", "currency": "GBP",
             "price": D("11.00"), "image_url": tee_image("MUG-1"), "is_active": True},
        ],
    },
    "MUG-1": {"@type": "product", "id": "MUG-1", "parent_id": "mug", "is_variant": True, "is_active": True, "sku": "MUG-1",
              "title": "Mok", "image_url": tee_image("MUG-1"), "price": D("12.50")},
    "cap": {
        "@type": "product", "id": "cap", "title": "Pet", "sku": "CAP-1", "image_url": tee_image("CAP-1"),
        "url": "https://shop.example.nl/nl-NL/p/pet", "price": D("9.00"), "is_active": False, "is_variant": False,
        "stores": [NL, UK], "attributes": [{"type": "category", "id": "clothing", "label": "Kleding"}],
        "listings": [
            {"store": NL, "title": "Pet", "url": "https://shop.example.nl/nl-NL/p/pet", "currency": "EUR",
             "price": D("9.00"), "image_url": tee_image("CAP-1"), "is_active": False},
            {"store": UK, "title": "Cap", "url": "https://shop.example.co.uk/p/cap", "currency": "GBP",
             "image_url": tee_image("CAP-1"), "is_active": False},
        ],
    },
    "CAP-1": {"@type": "product", "id": "CAP-1", "parent_id": "cap", "is_variant": True, "is_active": False, "sku": "CAP-1",
              "title": "Pet", "image_url": tee_image("CAP-1"), "price": D("9.00")},
}  # fmt: skip


def order(order_id, ct_id, lines, grand_total, status="pending", valid=True, customer=ADA, currency="EUR", store=NL,
          locale="nl-NL", returned=None, **amounts):  # fmt: skip
    record = {
        "@type": "order", "id": order_id, "timestamp": "2024-05-02T10:15:00+00:00", "grand_total": D(grand_total),
        "currency": currency, "status": status, "is_valid": valid, "customer": customer, "lineitems": lines,
        "store": store, "channel": "web", "shipping_address": AMSTERDAM, "billing_address": AMSTERDAM,
        "properties": {"locale": locale, "commercetools_id": ct_id, "order_number": order_id},
    }  # fmt: skip
    if returned:
        record["properties"]["returned_units"] = returned
    record.update({key: D(value) if isinstance(value, str) and value[0].isdigit() else value for key, value in amounts.items()})
    return record


def item(product, variant, quantity, unit, subtotal, total, discount, on_sale=False, **extra):
    values = {"product_id": product, "variant_id": variant, "sku": variant, "quantity": quantity, "unit_price": D(unit),
              "subtotal": D(subtotal), "total": D(total), "discount": D(discount), "is_on_sale": on_sale}  # fmt: skip
    values.update({key: D(value) if isinstance(value, str) else value for key, value in extra.items()})
    return values


EXPECTED_ORDERS = {
    "ORD-A": order(
        "ORD-A", "order-a",
        [item("tee", "TEE-M", 2, "19.99", "39.98", "35.98", "4.00", tax="6.24"),
         item("mug", "MUG-1", 1, "10.00", "10.00", "9.00", "1.00", on_sale=True)],
        "49.93", status="shipped", subtotal="49.98", discount="5.00", shipping="4.95", tax="8.67",
        coupon_code="SUMMER10", shipping_method="Standard",
    ),
    "ORD-B": order(
        "ORD-B", "order-b", [item("tee", "TEE-L", 3, "21.99", "65.97", "65.97", "0.00", quantity_refunded=1, refunded="21.99")],
        "65.97", status="complete", subtotal="65.97", discount="0.00", returned=1,
    ),
    "ORD-C": order("ORD-C", "order-c", [item("mug", "MUG-1", 1, "10.00", "10.00", "10.00", "0.00", on_sale=True)],
                   "10.00", status="cancelled", valid=False, subtotal="10.00", discount="0.00"),
    "ORD-D": order("ORD-D", "order-d", [item("tee", "TEE-M", 1, "19.99", "19.99", "19.99", "0.00")], "19.99",
                   customer={"email": "guest.shopper@example.com"}, subtotal="19.99", discount="0.00"),
    "ORD-E": order("ORD-E", "order-e", [item("tee", "TEE-M", 1, "14.99", "14.99", "14.99", "0.00", on_sale=True)],
                   "14.99", status="shipped", currency="GBP", store=UK, locale="en-GB", subtotal="14.99", discount="0.00"),
    "ORD-G": order(
        "ORD-G", "order-g", [item("tee", "TEE-M", 2, "19.99", "39.98", "39.98", "0.00", tax="6.94", quantity_refunded=1,
                                  refunded="19.99")],
        "37.48", subtotal="42.48", discount="5.00", returned=1,
    ),
    "ORD-F": order(
        "ORD-F", "order-f",
        [item("mug", "MUG-1", 2, "10.00", "20.00", "20.00", "0.00", on_sale=True, quantity_refunded=2, refunded="20.00")],
        "20.00", status="refunded", valid=False, subtotal="20.00", discount="0.00", returned=2,
    ),
}  # fmt: skip


def as_sent(value):
    """What the sandbox holds after JSON: Decimals arrive as JSON numbers."""
    return json.loads(json.dumps(value, default=float))


@pytest.fixture
def synced(emulator, sandbox, run_all, mapping_file, tmp_path):
    data.seed(emulator)
    result = run_all(data.DAY, mapping=mapping_file(data.MAPPING))
    return result, tmp_path / "frames"


def test_products_and_orders_arrive_exactly(synced, sandbox):
    result, _ = synced
    assert result.success
    products = {record["id"]: record for record in sandbox.records("product")}
    assert products == {key: as_sent(value) for key, value in EXPECTED_PRODUCTS.items()}
    orders = {record["id"]: record for record in sandbox.records("order")}
    assert orders == {key: as_sent(value) for key, value in EXPECTED_ORDERS.items()}
    assert sandbox.get("errors") == []


def test_money_is_written_with_the_currencys_digits(synced):
    _, frames = synced
    sent = pd.read_parquet(frames / "ometria_orders" / f"{data.DAY}.parquet").set_index("id")
    record = sent.loc["ORD-A", "record"]
    for fragment in ('"grand_total":49.93', '"discount":4.00', '"discount":5.00', '"unit_price":10.00', '"shipping":4.95'):
        assert fragment in record
    assert json.loads(sent.loc["ORD-A", "record"], parse_float=Decimal) == EXPECTED_ORDERS["ORD-A"]


def test_orders_with_an_unknown_currency_or_a_negative_amount_are_parked_and_the_rest_arrive(synced, sandbox):
    result, _ = synced
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey("ometria_orders")]
    assert evaluation.passed and evaluation.metadata["invalid"].value == 2
    table = evaluation.metadata["invalid_records"].value
    assert "| order-x | 2024-05-02 | totalPrice.currencyCode: not an ISO 4217 currency code |" in table
    assert "| order-y | 2024-05-02 | lineItems.0.totalPrice: negative amount |" in table
    assert len(sandbox.records("order")) == 7


def test_products_are_sent_before_the_orders_that_reference_them(synced, sandbox):
    log = sandbox.requests()
    first_order = next(i for i, entry in enumerate(log) if entry["type"] == "order")
    assert all(entry["type"] in ("product", "contact") for entry in log[:first_order])
    assert all(entry["type"] == "order" for entry in log[first_order:])
    assert {entry["status"] for entry in log} == {202}


def test_an_order_for_a_product_of_another_day_pulls_the_product_forward(emulator, sandbox, run_all, mapping_file):
    old_mug = {**data.MUG, "lastModifiedAt": "2024-04-01T09:00:00.000Z"}
    emulator.seed(store=data.STORES, category=data.CATEGORIES, product=[old_mug], customer=data.CUSTOMERS,
                  order=[data.ORDERS[2]])  # fmt: skip
    result = run_all(data.DAY, mapping=mapping_file(data.MAPPING))
    assert result.success
    assert {record["id"] for record in sandbox.records("product")} == {"mug", "MUG-1"}
    assert [record["id"] for record in sandbox.records("order")] == ["ORD-C"]
    [sync] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("ometria_orders_sync")]
    assert sync.materialization.metadata["products_pulled_forward"].value == 2
