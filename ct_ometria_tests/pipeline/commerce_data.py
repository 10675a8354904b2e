"""A two-store, two-locale, two-currency commercetools dataset, in the API's own document shapes.

nl-store sells in EUR to NL in nl-NL; uk-store sells in GBP to GB in en-GB. Everything is
modified on 2024-05-02 unless a test says otherwise.
"""

from __future__ import annotations

from typing import Any

DAY = "2024-05-02"
STAMP = f"{DAY}T09:00:00.000Z"
MAPPING = {
    "stores": [
        {"key": "nl-store", "ometria_store_id": "shop.example.nl/nl", "url_template": "https://shop.example.nl/{locale}/p/{slug}"},
        {"key": "uk-store", "ometria_store_id": "shop.example.co.uk/en", "url_template": "https://shop.example.co.uk/p/{slug}"},
    ],
    "default_store": "nl-store",
    "products": {"id_strategy": "key", "attributes": ["color"]},
    "orders": {"id_strategy": "orderNumber"},
}


def _meta(doc_id: str, version: int = 1, modified: str = STAMP) -> dict[str, Any]:
    return {"id": doc_id, "version": version, "createdAt": "2024-01-01T00:00:00.000Z", "lastModifiedAt": modified}


def money(cents: int, currency: str = "EUR", digits: int = 2) -> dict[str, Any]:
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": digits}


STORES = [
    {**_meta("store-nl"), "key": "nl-store", "name": {"en-GB": "Netherlands"}, "languages": ["nl-NL"],
     "countries": [{"code": "NL"}], "distributionChannels": [], "supplyChannels": [], "productSelections": []},
    {**_meta("store-uk"), "key": "uk-store", "name": {"en-GB": "United Kingdom"}, "languages": ["en-GB"],
     "countries": [{"code": "GB"}], "distributionChannels": [], "supplyChannels": [], "productSelections": []},
]  # fmt: skip

CATEGORIES = [
    {**_meta("cat-clothing"), "key": "clothing", "name": {"en-GB": "Clothing", "nl-NL": "Kleding"},
     "slug": {"en-GB": "clothing", "nl-NL": "kleding"}, "ancestors": [], "orderHint": "0.1", "assets": []},
    {**_meta("cat-shirts"), "key": "shirts", "name": {"en-GB": "Shirts", "nl-NL": "Overhemden"},
     "slug": {"en-GB": "shirts", "nl-NL": "overhemden"}, "parent": {"typeId": "category", "id": "cat-clothing"},
     "ancestors": [{"typeId": "category", "id": "cat-clothing"}], "orderHint": "0.2", "assets": []},
]  # fmt: skip


def _price(price_id: str, cents: int, currency: str, country: str | None, **extra: Any) -> dict[str, Any]:
    price = {"id": price_id, "value": money(cents, currency)}
    if country:
        price["country"] = country
    price.update(extra)
    return price


def _variant(number: int, sku: str, prices: list[dict[str, Any]], color: str | None = None) -> dict[str, Any]:
    attributes = []
    if color:
        labels = {"red": {"en-GB": "Red", "nl-NL": "Rood"}, "blue": {"en-GB": "Blue", "nl-NL": "Blauw"}}[color]
        attributes.append({"name": "color", "value": {"key": color, "label": labels}})
    attributes.append({"name": "care", "value": "wash cold"})
    return {"id": number, "sku": sku, "prices": prices, "attributes": attributes,
            "images": [{"url": f"https://img.example.com/{sku}.jpg", "dimensions": {"w": 800, "h": 800}}], "assets": []}  # fmt: skip


def product(doc_id: str, key: str, names: dict[str, str], slugs: dict[str, str], variants: list[dict[str, Any]],
            categories: list[str], published: bool = True, version: int = 3) -> dict[str, Any]:  # fmt: skip
    current = {"name": names, "slug": slugs, "categories": [{"typeId": "category", "id": c} for c in categories],
               "masterVariant": variants[0], "variants": variants[1:], "searchKeywords": {}}  # fmt: skip
    return {
        **_meta(doc_id, version),
        "key": key,
        "productType": {"typeId": "product-type", "id": "pt-1"},
        "masterData": {"published": published, "hasStagedChanges": False, "current": current, "staged": current},
    }


TEE = product(
    "prod-tee", "tee", {"en-GB": "Tee", "nl-NL": "Shirt"}, {"en-GB": "tee", "nl-NL": "shirt"},
    [
        _variant(1, "TEE-M", [
            _price("p1", 1999, "EUR", "NL"),
            _price("p2", 1799, "GBP", "GB", discounted={"value": money(1499, "GBP"), "discount": {"typeId": "product-discount", "id": "pd"}}),
            # Expired and future prices never win, whatever their specificity.
            _price("p3", 999, "EUR", "NL", validUntil="2024-01-01T00:00:00.000Z"),
            _price("p4", 2999, "EUR", "NL", validFrom="2099-01-01T00:00:00.000Z"),
            _price("p5", 1499, "EUR", "NL", customerGroup={"typeId": "customer-group", "id": "vip"}),
        ], color="red"),
        _variant(2, "TEE-L", [_price("p6", 2199, "EUR", None), _price("p7", 1899, "GBP", None)], color="blue"),
    ],
    ["cat-shirts"],
)  # fmt: skip
MUG = product(
    "prod-mug", "mug", {"en-GB": "Mug", "nl-NL": "Mok"}, {"en-GB": "mug", "nl-NL": "mok"},
    [_variant(1, "MUG-1", [_price("m1", 1250, "EUR", None, discounted={"value": money(1000), "discount": {"typeId": "product-discount", "id": "pd"}}),
                           _price("m2", 1100, "GBP", None)])],
    [],
)  # fmt: skip
CAP = product(
    "prod-cap", "cap", {"en-GB": "Cap", "nl-NL": "Pet"}, {"en-GB": "cap", "nl-NL": "pet"},
    [_variant(1, "CAP-1", [_price("c1", 900, "EUR", None)])], ["cat-clothing"], published=False,
)  # fmt: skip
PRODUCTS = [TEE, MUG, CAP]

CUSTOMERS = [
    {**_meta("cust-1"), "email": "ada@example.com", "customerNumber": "C-1", "firstName": "Ada",
     "addresses": [], "isEmailVerified": True, "stores": [], "authenticationMode": "Password"},
]  # fmt: skip
DISCOUNT_CODES = [
    {**_meta("dc-summer"), "code": "SUMMER10", "cartDiscounts": [], "isActive": True, "references": [], "groups": []},
]


def line(line_id: str, product_doc: dict[str, Any], variant_index: int, quantity: int, unit_cents: int, total_cents: int,
         currency: str = "EUR", discounted_cents: int | None = None, tax_cents: int | None = None,
         keyless: bool = False) -> dict[str, Any]:  # fmt: skip
    current = product_doc["masterData"]["current"]
    variant = [current["masterVariant"], *current["variants"]][variant_index]
    price: dict[str, Any] = {"id": f"{line_id}-price", "value": money(unit_cents, currency)}
    if discounted_cents is not None:
        price["discounted"] = {"value": money(discounted_cents, currency), "discount": {"typeId": "product-discount", "id": "pd"}}
    item = {
        "id": line_id, "productId": product_doc["id"], "productKey": product_doc["key"], "name": current["name"],
        "variant": {"id": variant["id"], "sku": variant["sku"], "prices": [], "attributes": [], "images": []},
        "price": price, "quantity": quantity, "totalPrice": money(total_cents, currency),
        "discountedPricePerQuantity": [], "taxedPricePortions": [], "state": [], "perMethodTaxRate": [],
        "priceMode": "Platform", "lineItemMode": "Standard",
    }  # fmt: skip
    if keyless:  # orders from before commercetools put productKey on lines
        del item["productKey"]
    if tax_cents is not None:
        item["taxedPrice"] = {"totalNet": money(total_cents - tax_cents, currency), "totalGross": money(total_cents, currency),
                              "totalTax": money(tax_cents, currency)}  # fmt: skip
    return item


ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "streetName": "Damrak", "streetNumber": "1",
           "postalCode": "1011AB", "city": "Amsterdam", "country": "NL", "email": "ada@example.com"}  # fmt: skip


def order(doc_id: str, number: str, lines: list[dict[str, Any]], total_cents: int, *, currency: str = "EUR",
          store: str | None = "nl-store", customer: str | None = "cust-1", email: str = "ada@example.com",
          state: str = "Confirmed", shipment: str | None = None, taxed: tuple[int, int] | None = None,
          shipping_cents: int | None = None, codes: list[str] = (), returns: list[dict[str, Any]] = (),
          custom_lines: list[dict[str, Any]] = (), total_discount_cents: int | None = None,
          created: str = f"{DAY}T10:15:00.000Z", modified: str = STAMP) -> dict[str, Any]:  # fmt: skip
    document: dict[str, Any] = {
        **_meta(doc_id, 5, modified), "createdAt": created, "orderNumber": number, "customerEmail": email,
        "lineItems": lines, "customLineItems": list(custom_lines), "totalPrice": money(total_cents, currency), "orderState": state,
        "origin": "Customer", "locale": "nl-NL" if currency == "EUR" else "en-GB", "shippingAddress": ADDRESS,
        "billingAddress": ADDRESS, "syncInfo": [], "returnInfo": list(returns), "refusedGifts": [],
        "discountCodes": [{"discountCode": {"typeId": "discount-code", "id": c}, "state": "MatchesCart"} for c in codes],
        "taxMode": "Platform", "inventoryMode": "None", "taxRoundingMode": "HalfEven", "taxCalculationMode": "LineItemLevel",
    }  # fmt: skip
    if customer:
        document["customerId"] = customer
    if store:
        document["store"] = {"typeId": "store", "key": store}
    if shipment:
        document["shipmentState"] = shipment
    if total_discount_cents is not None:
        document["discountOnTotalPrice"] = {"discountedAmount": money(total_discount_cents, currency),
                                            "includedDiscounts": []}  # fmt: skip
    if taxed:
        net, tax = taxed
        document["taxedPrice"] = {"totalNet": money(net, currency), "totalGross": money(net + tax, currency),
                                  "totalTax": money(tax, currency), "taxPortions": []}  # fmt: skip
    if shipping_cents is not None:
        document["shippingInfo"] = {"shippingMethodName": "Standard", "price": money(shipping_cents, currency),
                                    "shippingRate": {"price": money(shipping_cents, currency)}, "deliveries": []}  # fmt: skip
    return document


def refund(line_id: str, quantity: int) -> dict[str, Any]:
    return {"items": [{"type": "LineItemReturnItem", "id": f"ret-{line_id}", "quantity": quantity, "lineItemId": line_id,
                       "shipmentState": "Returned", "paymentState": "Refunded", "createdAt": STAMP, "lastModifiedAt": STAMP}],
            "returnDate": STAMP}  # fmt: skip


ORDERS = [
    # A multi-line order with a cart discount (SUMMER10), a product discount on the mug, shipping and tax.
    order("order-a", "ORD-A", [line("a1", TEE, 0, 2, 1999, 3598, tax_cents=624), line("a2", MUG, 0, 1, 1250, 900, discounted_cents=1000)],
          4993, taxed=(4126, 867), shipping_cents=495, codes=["dc-summer"], shipment="Shipped"),
    # One of three tees refunded.
    order("order-b", "ORD-B", [line("b1", TEE, 1, 3, 2199, 6597)], 6597, state="Complete", shipment="Delivered",
          returns=[refund("b1", 1)]),
    # Confirmed, then cancelled.
    order("order-c", "ORD-C", [line("c1", MUG, 0, 1, 1250, 1000, discounted_cents=1000)], 1000, state="Cancelled"),
    # A guest: no customer id, an email typed with capitals and spaces.
    order("order-d", "ORD-D", [line("d1", TEE, 0, 1, 1999, 1999)], 1999, customer=None, email="  Guest.Shopper@Example.COM "),
    # The UK store, in GBP.
    order("order-e", "ORD-E", [line("e1", TEE, 0, 1, 1799, 1499, currency="GBP", discounted_cents=1499)], 1499,
          currency="GBP", store="uk-store", shipment="Shipped"),
    # A line without productKey, a custom line (gift wrap), a discount on the total, one of two refunded.
    order("order-g", "ORD-G", [line("g1", TEE, 0, 2, 1999, 3998, tax_cents=694, keyless=True)], 3748,
          custom_lines=[{"id": "gw", "name": {"en-GB": "Gift wrap"}, "money": money(250), "slug": "gift-wrap",
                         "quantity": 1, "totalPrice": money(250), "discountedPricePerQuantity": [], "state": []}],
          total_discount_cents=500, returns=[refund("g1", 1)]),
    # Everything refunded.
    order("order-f", "ORD-F", [line("f1", MUG, 0, 2, 1250, 2000, discounted_cents=1000)], 2000, state="Complete",
          returns=[refund("f1", 2)]),
]  # fmt: skip

BROKEN_ORDERS = [
    order("order-x", "ORD-X", [line("x1", MUG, 0, 1, 1250, 1250)], 1250, currency="XYZ"),
    order("order-y", "ORD-Y", [line("y1", MUG, 0, 1, 1250, -1250)], -1250),
]


def seed(emulator) -> None:
    emulator.seed(
        store=STORES, category=CATEGORIES, product=PRODUCTS, customer=CUSTOMERS, **{"discount-code": DISCOUNT_CODES},
        order=ORDERS + BROKEN_ORDERS,
    )  # fmt: skip
