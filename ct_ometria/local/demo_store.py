"""The demo's sample store: two stores and currencies, products in two locales, customers with and
without consent, guests, refunds, cancellations and a few records bad at the source.

Deterministic for a seed. Documents are in commercetools' own shapes and seeded verbatim into the
emulator, so their dates land in the partitions a backfill reads. ``DEMO_MAPPING`` is the mapping
config that goes with them.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from ct_ometria.commercetools.client import ct_datetime
from ct_ometria.local.sample import FIRST_NAMES, LAST_NAMES, customer_document

# (store key, currency, locale, country, Ometria store id, product URL template)
STORES = (
    ("uk-store", "GBP", "en-GB", "GB", "shop.example.co.uk/en", "https://shop.example.co.uk/p/{slug}"),
    ("nl-store", "EUR", "nl-NL", "NL", "shop.example.nl/nl", "https://shop.example.nl/{locale}/p/{slug}"),
)
DEMO_MAPPING: dict[str, Any] = {
    "stores": [{"key": key, "ometria_store_id": store_id, "url_template": url} for key, _, _, _, store_id, url in STORES],
    "default_store": "nl-store",
    "products": {"id_strategy": "key", "attributes": ["color"]},
    "orders": {"id_strategy": "orderNumber"},
    "consent": {"email_optin_field": "newsletterOptIn", "email_optin_at_field": "newsletterOptInAt",
                "sms_optin_field": "smsOptIn"},
    # A demo store is small: one run for the whole range.
    "sync": {"days_per_run": 366},
}  # fmt: skip
CONSENT_TYPE = {
    "id": "customer-consent", "version": 1, "key": "customer-consent", "name": {"en-GB": "Consent"},
    "resourceTypeIds": ["customer"], "createdAt": "2024-01-01T00:00:00.000Z", "lastModifiedAt": "2024-01-01T00:00:00.000Z",
    "fieldDefinitions": [
        {"name": name, "label": {"en-GB": name}, "required": False, "type": {"name": kind}, "inputHint": "SingleLine"}
        for name, kind in (("newsletterOptIn", "Boolean"), ("newsletterOptInAt", "DateTime"), ("smsOptIn", "Boolean"))
    ],
}  # fmt: skip
PRODUCTS = (
    ("tee", "Tee", "Shirt", 1999), ("hoodie", "Hoodie", "Trui", 4999), ("cap", "Cap", "Pet", 1299),
    ("mug", "Mug", "Mok", 1250), ("tote", "Tote bag", "Draagtas", 1599), ("socks", "Socks", "Sokken", 899),
    ("scarf", "Scarf", "Sjaal", 2499), ("bottle", "Bottle", "Fles", 1799), ("poster", "Poster", "Poster", 999),
    ("jacket", "Jacket", "Jas", 8999), ("beanie", "Beanie", "Muts", 1499), ("notebook", "Notebook", "Notitieboek", 699),
)  # fmt: skip
CATEGORIES = (("clothing", "Clothing", "Kleding", None), ("accessories", "Accessories", "Accessoires", None),
              ("tops", "Tops", "Bovenstukken", "clothing"), ("home", "Home", "Wonen", None))  # fmt: skip
CATEGORY_OF = {"tee": "tops", "hoodie": "tops", "jacket": "clothing", "socks": "clothing", "cap": "accessories",
               "beanie": "accessories", "scarf": "accessories", "tote": "accessories", "mug": "home",
               "bottle": "home", "poster": "home", "notebook": "home"}  # fmt: skip
COLORS = {"red": ("Red", "Rood"), "blue": ("Blue", "Blauw"), "black": ("Black", "Zwart")}


def money(cents: int, currency: str) -> dict[str, Any]:
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": 2}


def _meta(doc_id: str, moment: dt.datetime, version: int = 1) -> dict[str, Any]:
    stamp = ct_datetime(moment)
    return {"id": doc_id, "version": version, "createdAt": stamp, "lastModifiedAt": stamp}


class DemoStore:
    """``customers`` shoppers and about two orders each over ``days`` days from ``first_day``."""

    def __init__(self, first_day: dt.date, days: int, customers: int = 300, seed: int = 7, broken: int = 2):
        self.first_day, self.days, self.customers, self.broken = first_day, days, customers, broken
        self.random = random.Random(seed)
        self.start = dt.datetime.combine(first_day, dt.time(), dt.timezone.utc)

    def _moment(self, index: int, count: int) -> dt.datetime:
        """Spread ``count`` documents over the days, in index order, at random minutes."""
        day = index * self.days // max(count, 1)
        return self.start + dt.timedelta(days=day, seconds=self.random.randrange(86_400))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def documents(self) -> dict[str, list[dict[str, Any]]]:
        stores = self.stores()
        categories = self.categories()
        products = self.products()
        customers = self.customer_documents()
        orders = self.orders(products, customers)
        return {"type": [CONSENT_TYPE], "store": stores, "category": categories, "product": products,
                "customer": customers, "order": orders}  # fmt: skip

    def stores(self) -> list[dict[str, Any]]:
        return [{**_meta(f"store-{key}", self.start - dt.timedelta(days=90)), "key": key, "name": {"en-GB": key},
                 "languages": [locale], "countries": [{"code": country}], "distributionChannels": [],
                 "supplyChannels": [], "productSelections": []} for key, _, locale, country, _, _ in STORES]  # fmt: skip

    def categories(self) -> list[dict[str, Any]]:
        created = self.start - dt.timedelta(days=60)
        documents = []
        for index, (key, en, nl, parent) in enumerate(CATEGORIES):
            document = {**_meta(f"cat-{key}", self._moment(index, len(CATEGORIES))), "key": key,
                        "name": {"en-GB": en, "nl-NL": nl}, "slug": {"en-GB": key, "nl-NL": nl.lower()},
                        "ancestors": [], "orderHint": f"0.{index + 1}", "assets": []}  # fmt: skip
            document["createdAt"] = ct_datetime(created)
            if parent:
                document["parent"] = {"typeId": "category", "id": f"cat-{parent}"}
                document["ancestors"] = [{"typeId": "category", "id": f"cat-{parent}"}]
            documents.append(document)
        return documents

    def products(self) -> list[dict[str, Any]]:
        documents = []
        for index, (key, en, nl, cents) in enumerate(PRODUCTS):
            variants = []
            for number, color in enumerate(COLORS, start=1):
                sku = f"{key.upper()}-{color.upper()}"
                prices = [{"id": f"price-{sku}-{currency}", "value": money(cents if currency == "EUR" else cents * 86 // 100, currency),
                           "country": country} for _, currency, _, country, _, _ in STORES]  # fmt: skip
                label_en, label_nl = COLORS[color]
                image = {"url": f"https://img.example.com/{sku}.jpg", "dimensions": {"w": 800, "h": 800}}
                label = {"en-GB": label_en, "nl-NL": label_nl}
                variants.append({"id": number, "sku": sku, "key": sku.lower(), "prices": prices, "assets": [],
                                 "images": [image], "attributes": [{"name": "color", "value": {"key": color, "label": label}}]})  # fmt: skip
            current = {"name": {"en-GB": en, "nl-NL": nl}, "slug": {"en-GB": key, "nl-NL": nl.lower().replace(" ", "-")},
                       "categories": [{"typeId": "category", "id": f"cat-{CATEGORY_OF[key]}"}],
                       "masterVariant": variants[0], "variants": variants[1:], "searchKeywords": {}}  # fmt: skip
            documents.append({**_meta(f"prod-{key}", self._moment(index, len(PRODUCTS)), version=3), "key": key,
                              "productType": {"typeId": "product-type", "id": "pt-demo"},
                              # The last product is not published yet: it reaches Ometria as inactive.
                              "masterData": {"published": index != len(PRODUCTS) - 1, "hasStagedChanges": False,
                                             "current": current, "staged": current}})  # fmt: skip
        return documents

    def customer_documents(self) -> list[dict[str, Any]]:
        documents = []
        for index in range(self.customers):
            key, _, locale, country, _, _ = STORES[index % 2]
            first, last = self.random.choice(FIRST_NAMES), self.random.choice(LAST_NAMES)
            moment = self._moment(index, self.customers)
            local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch == "."))
            email = f"{local}{index}@example.com"
            if index >= self.customers - self.broken:
                email = email.replace("@", ".at.")  # bad at the source: set aside with its reason
            fields: dict[str, Any] = {}
            choice = index % 5
            if choice in (0, 1):  # opted in, some by SMS too
                fields = {"newsletterOptIn": True, "newsletterOptInAt": ct_datetime(moment - dt.timedelta(days=3)),
                          "smsOptIn": choice == 0}  # fmt: skip
            elif choice == 2:  # opted out
                fields = {"newsletterOptIn": False}
            # 3 and 4: never asked; no consent is assumed
            document = customer_document(self._uuid(), email, moment, first_name=first, last_name=last,
                                         customer_number=f"C-{index:05d}", country=country, stores=[key], locale=locale)  # fmt: skip
            if fields:
                document["custom"] = {"type": {"typeId": "type", "id": CONSENT_TYPE["id"]}, "fields": fields}
            documents.append(document)
        return documents

    def orders(self, products: list[dict[str, Any]], customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        documents = []
        count = self.customers * 2
        published = [p for p in products if p["masterData"]["published"]]
        for index in range(count):
            key, currency, locale, country, _, _ = STORES[index % 2]
            moment = self._moment(index, count)
            lines, total = [], 0
            for number in range(1 + index % 3):
                product = published[(index * 7 + number * 3) % len(published)]
                current = product["masterData"]["current"]
                variant = [current["masterVariant"], *current["variants"]][(index + number) % 3]
                unit = next(p["value"]["centAmount"] for p in variant["prices"] if p["value"]["currencyCode"] == currency)
                quantity = 1 + (index + number) % 2
                lines.append({"id": f"line-{index}-{number}", "productId": product["id"], "productKey": product["key"],
                              "name": current["name"], "variant": {"id": variant["id"], "sku": variant["sku"]},
                              "price": {"id": f"lp-{index}-{number}", "value": money(unit, currency)}, "quantity": quantity,
                              "totalPrice": money(unit * quantity, currency), "discountedPricePerQuantity": [],
                              "taxedPricePortions": [], "state": [], "perMethodTaxRate": [], "priceMode": "Platform",
                              "lineItemMode": "Standard"})  # fmt: skip
                total += unit * quantity
            guest = index % 8 == 0
            # A buyer of the order's store (customers alternate between the stores as orders do).
            buyer = customers[index % max(2, (len(customers) - self.broken) // 2 * 2)]
            email = f"guest{index}@example.com" if guest else buyer["email"]
            state, returns = "Confirmed", []
            if index % 20 == 7:
                state = "Cancelled"
            elif index % 20 == 13:  # a refunded line
                state = "Complete"
                line = lines[0]
                returns = [{"items": [{"type": "LineItemReturnItem", "id": f"ret-{line['id']}", "quantity": line["quantity"],
                                       "lineItemId": line["id"], "shipmentState": "Returned", "paymentState": "Refunded",
                                       "createdAt": ct_datetime(moment), "lastModifiedAt": ct_datetime(moment)}],
                            "returnDate": ct_datetime(moment)}]  # fmt: skip
            address = {"city": "Leeds" if key == "uk-store" else "Utrecht", "postalCode": "1000", "country": country}
            document = {**_meta(f"order-{index:05d}", moment, version=2), "orderNumber": f"DEMO-{index:05d}",
                        "customerEmail": email, "lineItems": lines, "customLineItems": [],
                        "totalPrice": money(total, currency), "orderState": state, "origin": "Customer", "locale": locale,
                        "shippingAddress": address, "billingAddress": address, "syncInfo": [], "returnInfo": returns,
                        "refusedGifts": [], "discountCodes": [], "taxMode": "Platform", "inventoryMode": "None",
                        "store": {"typeId": "store", "key": key}}  # fmt: skip
            if not guest:
                document["customerId"] = buyer["id"]
            documents.append(document)
        return documents
