"""A deterministic generated store, computed per document from its index (nothing is held in memory).

``Store(orders=N, days=D)`` has N orders, N/5 customers and max(50, N/200) products with three variants,
two stores (uk: GBP, en-GB; nl: EUR, nl-NL), spread evenly over D days ending yesterday (UTC).
Each resource's ids sort in index order and its ``lastModifiedAt`` grows with the index, so a time
window is a contiguous range of indexes, and a page is generated on demand.

``changed_share`` (e.g. 0.01) marks every (1/share)-th document of each resource as changed: version 2,
modified at ``changed_at``, with a different content (a customer's first name, an order's state, a
product's name), as a daily delta would find them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

UTC = dt.timezone.utc
PREFIX = {"customer": "c", "order": "o", "product": "p", "category": "a"}
STORES = (("uk", "GBP", "en-GB", "GB"), ("nl", "EUR", "nl-NL", "NL"))


def money(cents: int, currency: str) -> dict[str, Any]:
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": 2}


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Store:
    orders: int
    days: int = 90
    end: dt.date = field(default_factory=lambda: dt.datetime.now(UTC).date())
    changed_share: float = 0.0
    changed_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        self.start = dt.datetime.combine(self.end - dt.timedelta(days=self.days), dt.time(0), UTC)
        self.counts = {"order": self.orders, "customer": max(1, self.orders // 5),
                       "product": max(50, self.orders // 200), "category": 10}  # fmt: skip

    # ---- ids and time ------------------------------------------------------------------------

    def id_of(self, kind: str, index: int) -> str:
        return f"{PREFIX[kind]}0000000-0000-4000-8000-{index:012x}"

    def index_of(self, kind: str, doc_id: str) -> int | None:
        if not doc_id.startswith(PREFIX[kind]) or len(doc_id) != 36:
            return None
        try:
            index = int(doc_id[-12:], 16)
        except ValueError:
            return None
        return index if 0 <= index < self.counts[kind] else None

    def step(self, kind: str) -> float:
        return self.days * 86400 / self.counts[kind]

    def modified(self, kind: str, index: int) -> dt.datetime:
        if self.is_changed(index) and self.changed_at is not None:
            return self.changed_at
        return self._original(kind, index)

    def is_changed(self, index: int) -> bool:
        return self.changed_share > 0 and index % max(1, round(1 / self.changed_share)) == 0

    def window(self, kind: str, start: dt.datetime, end: dt.datetime) -> range:
        """The indexes whose original moment falls in [start, end)."""
        first = self._first_at(kind, start)
        return range(first, max(first, self._first_at(kind, end)))

    def _original(self, kind: str, index: int) -> dt.datetime:
        return self.start + dt.timedelta(seconds=index * self.step(kind))

    def _first_at(self, kind: str, moment: dt.datetime) -> int:
        """The first index whose original moment is at or after ``moment``: the division's estimate,
        corrected against the moments themselves (a float quotient can land a document that sits
        exactly on a window's edge in the window before)."""
        count = self.counts[kind]
        index = min(count, max(0, math.ceil((moment - self.start).total_seconds() / self.step(kind))))
        while index > 0 and self._original(kind, index - 1) >= moment:
            index -= 1
        while index < count and self._original(kind, index) < moment:
            index += 1
        return index

    def changed(self, kind: str) -> range:
        return range(0, self.counts[kind], max(1, round(1 / self.changed_share))) if self.changed_share else range(0)

    # ---- documents ---------------------------------------------------------------------------

    def meta(self, kind: str, index: int) -> dict[str, Any]:
        modified = self.modified(kind, index)
        created = min(modified, self.start + dt.timedelta(seconds=index * self.step(kind)))
        return {"id": self.id_of(kind, index), "version": 2 if self.is_changed(index) and self.changed_at else 1,
                "createdAt": stamp(created), "lastModifiedAt": stamp(modified)}  # fmt: skip

    def document(self, kind: str, index: int) -> dict[str, Any]:
        return getattr(self, kind)(index)

    def customer(self, index: int) -> dict[str, Any]:
        key, *_ = STORES[index % 2]
        changed = self.is_changed(index) and self.changed_at is not None
        return {
            **self.meta("customer", index), "email": f"shopper{index}@example.com", "customerNumber": f"C{index:08d}",
            "firstName": "Changed" if changed else f"First{index % 97}", "lastName": f"Last{index % 89}",
            "addresses": [], "isEmailVerified": True, "authenticationMode": "Password",
            "stores": [{"typeId": "store", "key": key}],
        }  # fmt: skip

    def category(self, index: int) -> dict[str, Any]:
        return {**self.meta("category", index), "key": f"cat-{index}", "name": {"en-GB": f"Category {index}",
                "nl-NL": f"Categorie {index}"}, "slug": {"en-GB": f"cat-{index}", "nl-NL": f"cat-{index}"},
                "ancestors": [], "orderHint": "0.5", "assets": []}  # fmt: skip

    def _variant(self, index: int, number: int) -> dict[str, Any]:
        cents = 1000 + (index % 40) * 100
        return {"id": number, "sku": f"SKU-{index}-{number}", "key": f"sku-{index}-{number}",
                "prices": [{"id": f"price-{index}-{number}-{c}", "value": money(cents, c), "country": country}
                           for _, c, _, country in STORES],
                "images": [{"url": f"https://img.example.com/{index}-{number}.jpg", "dimensions": {"w": 800, "h": 800}}],
                "attributes": [{"name": "color", "value": ["red", "blue", "green"][number - 1]}]}  # fmt: skip

    def product(self, index: int) -> dict[str, Any]:
        changed = self.is_changed(index) and self.changed_at is not None
        name = {"en-GB": f"Product {index}" + (" (new)" if changed else ""), "nl-NL": f"Product {index}"}
        data = {"name": name, "slug": {"en-GB": f"product-{index}", "nl-NL": f"product-{index}"},
                "categories": [{"typeId": "category", "id": self.id_of("category", index % 10)}],
                "masterVariant": self._variant(index, 1), "variants": [self._variant(index, 2), self._variant(index, 3)],
                "searchKeywords": {}}  # fmt: skip
        return {**self.meta("product", index), "key": f"product-{index}",
                "productType": {"typeId": "product-type", "id": "pt-basic"},
                "masterData": {"published": True, "current": data, "staged": data, "hasStagedChanges": False}}  # fmt: skip

    def order(self, index: int) -> dict[str, Any]:
        key, currency, locale, country = STORES[index % 2]
        product = (index * 7) % self.counts["product"]
        customer = index % self.counts["customer"]
        cents = 1000 + (product % 40) * 100
        quantity = 1 + index % 3
        changed = self.is_changed(index) and self.changed_at is not None
        line = {"id": f"line-{index}", "productId": self.id_of("product", product), "productKey": f"product-{product}",
                "name": {locale: f"Product {product}"}, "variant": {"id": 1, "sku": f"SKU-{product}-1"},
                "price": {"id": "p", "value": money(cents, currency)}, "quantity": quantity,
                "totalPrice": money(cents * quantity, currency), "discountedPricePerQuantity": [],
                "taxedPricePortions": [], "state": [], "perMethodTaxRate": [], "priceMode": "Platform",
                "lineItemMode": "Standard"}  # fmt: skip
        address = {"city": "Leeds" if key == "uk" else "Utrecht", "postalCode": "1000", "country": country}
        guest = index % 10 == 0
        document = {
            **self.meta("order", index), "orderNumber": f"N{index:09d}", "customerEmail": f"shopper{customer}@example.com",
            "lineItems": [line], "customLineItems": [], "totalPrice": money(cents * quantity, currency),
            "orderState": "Complete" if changed else "Confirmed", "origin": "Customer", "locale": locale,
            "shippingAddress": address, "billingAddress": address, "syncInfo": [], "returnInfo": [],
            "refusedGifts": [], "discountCodes": [], "taxMode": "Platform", "inventoryMode": "None",
            "store": {"typeId": "store", "key": key},
        }  # fmt: skip
        if not guest:
            document["customerId"] = self.id_of("customer", customer)
        return document

    def project(self) -> dict[str, Any]:
        return {"key": "bench", "name": "bench", "currencies": ["GBP", "EUR"], "languages": ["en-GB", "nl-NL"],
                "countries": ["GB", "NL"], "version": 1, "createdAt": stamp(self.start),
                "messages": {"enabled": True, "deleteDaysAfterCreation": 15}}  # fmt: skip

    def stores(self) -> list[dict[str, Any]]:
        return [{"id": f"store-{key}", "version": 1, "key": key, "name": {"en-GB": key}, "languages": [locale],
                 "countries": [{"code": country}], "distributionChannels": [], "supplyChannels": [],
                 "productSelections": [], "createdAt": stamp(self.start), "lastModifiedAt": stamp(self.start)}
                for key, _, locale, country in STORES]  # fmt: skip

    def records(self) -> int:
        """What a full sync sends: contacts, orders, product parents and variants."""
        return self.counts["customer"] + self.counts["order"] + self.counts["product"] * 4
