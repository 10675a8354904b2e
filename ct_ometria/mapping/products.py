"""commercetools products to Ometria products: a parent per product, a variant per SKU, and a
listing per store with the store's title, URL, price and special price.

Ometria's push key for per-store listings is not documented; this project sends them as
``listings`` on the parent product (``store``, ``title``, ``url``, ``price``, ``special_price``,
``currency``, ``image_url``, ``is_active``), the fields Ometria's own listing format names.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ct_ometria.commercetools.models import LocalizedString, Price, Product, Variant
from ct_ometria.config import MappingConfig
from ct_ometria.mapping.common import InvalidField, compact, ometria_id
from ct_ometria.mapping.money import amount, of_money
from ct_ometria.mapping.stores import StoreContext

MASTER = "masterData.current.masterVariant"


def parent_id(product_id: str, key: str | None, master_sku: str | None, strategy: str) -> str:
    """The Ometria id of a product; the commercetools id when the chosen field is empty."""
    chosen = {"key": key, "id": product_id, "sku": master_sku}[strategy]
    return chosen or product_id


def variant_id(parent: str, variant_number: int, sku: str | None) -> str:
    return sku or f"{parent}-v{variant_number}"


def line_product_id(product_id: str, product_key: str | None, sku: str | None, strategy: str) -> str:
    """The product id an order line refers to: the parent for key/id, the variant's SKU for sku
    (a line knows its own variant's SKU, not the master's), matching what ``product_records`` sends."""
    if strategy == "sku":
        return sku or product_id
    return parent_id(product_id, product_key, None, strategy)


def localized(text: LocalizedString, locale: str | None) -> str | None:
    """``text`` in ``locale``, else in its language (``nl`` for ``nl-NL``), else in any locale."""
    if not text:
        return None
    if locale:
        if locale in text:
            return text[locale]
        language = locale.split("-")[0]
        for candidate, value in text.items():
            if candidate.split("-")[0] == language:
                return value
    return next(iter(text.values()))


def select_price(prices: list[Price], store: StoreContext, as_of: dt.datetime) -> Price | None:
    """commercetools' price selection for a store: its currency; country and channel match or unset;
    no customer-group prices; valid at ``as_of``. The most specific match wins."""
    best: tuple[int, Price] | None = None
    for price in prices:
        if price.value.currency_code != store.currency or price.customer_group is not None:
            continue
        if price.country not in (None, store.country):
            continue
        channel = price.channel.id if price.channel else None
        if channel is not None and channel not in store.channels:
            continue
        if (price.valid_from and price.valid_from > as_of) or (price.valid_until and price.valid_until <= as_of):
            continue
        # commercetools' precedence: a channel match beats a country match, which beats neither.
        score = (channel is not None) * 4 + (price.country is not None) * 2 + (price.valid_from is not None)
        if best is None or score > best[0]:
            best = (score, price)
    return best[1] if best else None


def _url(store: StoreContext, slug: str | None, product: Product, ometria_id: str, sku: str | None) -> str | None:
    if not store.url_template or not slug:
        return None
    return store.url_template.format(
        slug=slug, locale=store.locale or "", key=product.key or "", id=ometria_id, sku=sku or "", store=store.key
    )


def _text(value: Any) -> str | None:
    """A label as text: numbers as themselves, anything else (a list, an object, null) as nothing."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    return str(value)


def _attribute(value: Any, locale: str | None, field: str) -> tuple[str, str] | None:
    """An attribute as Ometria's ``(id, label)``: enums by key with their label in the store's locale,
    localised text in that locale, money as its amount, booleans and numbers as themselves."""
    if isinstance(value, dict) and "label" in value:
        label = value["label"]
        text = _text(localized(label, locale) if isinstance(label, dict) else label)
        key = _text(value.get("key")) or text
        return (key, text or key) if key else None
    if isinstance(value, dict) and "centAmount" in value:
        value = amount(value, field)
    elif isinstance(value, dict):
        value = localized(value, locale)
    if isinstance(value, bool):
        text = "true" if value else "false"
        return text, text
    if isinstance(value, (int, float, str, Decimal)) and str(value) != "":
        return str(value), str(value)
    return None


def _attributes(variant: Variant, allowed: list[str], locale: str | None, where: str) -> list[dict[str, Any]]:
    found = []
    for index, attribute in enumerate(variant.attributes):
        field = f"{where}.attributes.{index}.value"
        if attribute.name in allowed and (pair := _attribute(attribute.value, locale, field)) is not None:
            found.append({"type": attribute.name, "id": pair[0], "label": pair[1]})
    return found


def product_records(
    product: Product, context: dict[str, Any] | None, stores: list[StoreContext], config: MappingConfig,
    as_of: dt.datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """The parent product (with listings per store and category attributes) and one record per variant."""
    data = product.master_data.current
    master = data.master_variant
    strategy = config.products.id_strategy
    parent = ometria_id(parent_id(product.id, product.key, master.sku, strategy),
                        {"key": "key", "id": "id", "sku": "masterData.current.masterVariant.sku"}[strategy])  # fmt: skip
    active = product.master_data.published
    default = stores[0] if stores else None
    categories = (context or {}).get("categories", {})
    attributes = [
        {"type": "category", "id": info.get("key") or category_id, "label": " > ".join(path)}
        for category_id, info in categories.items()
        if (path := _path(info.get("path", {}), default.locale if default else None))
    ]
    attributes += _attributes(master, config.products.attributes, default.locale if default else None, MASTER)
    listings = [_listing(product, master, parent, store, as_of, active) for store in stores]
    primary = listings[0] if listings else {}
    records = [
        compact(
            {
                "@type": "product",
                "id": parent,
                "title": primary.get("title") or localized(data.name, None),
                "sku": master.sku,
                "url": primary.get("url"),
                "image_url": master.images[0].url if master.images else None,
                "price": primary.get("price"),
                "special_price": primary.get("special_price"),
                "is_active": active,
                "is_variant": False,
                "stores": [store.ometria_id for store in stores],
                "attributes": attributes,
                "listings": [compact(listing) for listing in listings],
            }
        )
    ]
    for index, variant in enumerate(data.all_variants()):
        if variant_id(parent, variant.id, variant.sku) == parent:
            continue  # the sku strategy: the master variant's SKU is the parent itself
        where = f"masterData.current.variants.{index - 1}" if index else MASTER
        records.append(
            compact(
                {
                    "@type": "product",
                    "id": ometria_id(variant_id(parent, variant.id, variant.sku), f"{where}.sku"),
                    "parent_id": parent,
                    "is_variant": True,
                    "is_active": active,
                    "sku": variant.sku,
                    "title": primary.get("title") or localized(data.name, None),
                    "image_url": variant.images[0].url if variant.images else None,
                    "price": _price_of(select_price(variant.prices, default, as_of), variant, where) if default else None,
                    "attributes": _attributes(variant, config.products.attributes, default.locale if default else None, where),
                }
            )
        )
    if len({record["id"] for record in records}) != len(records):
        raise InvalidField("masterData.current.variants.sku", "two variants map to the same Ometria id")
    return records


def _path(paths: dict[str, list[str]], locale: str | None) -> list[str]:
    if not paths:
        return []
    chosen = localized({key: " > ".join(value) for key, value in paths.items()}, locale)
    return chosen.split(" > ") if chosen else []


def _price_of(price: Price | None, variant: Variant, field: str, *, discounted: bool = False) -> Decimal | None:
    """The amount of a selected price (or its discounted value); a broken one names its place in the
    document (``masterData.current.masterVariant.prices.1.value``)."""
    if price is None or (discounted and price.discounted is None):
        return None
    where = f"{field}.prices.{variant.prices.index(price)}"
    if discounted:
        return of_money(price.discounted.value, f"{where}.discounted.value")
    return of_money(price.value, f"{where}.value")


def _listing(product: Product, master: Variant, parent: str, store: StoreContext, as_of: dt.datetime,
             active: bool) -> dict[str, Any]:  # fmt: skip
    data = product.master_data.current
    price = select_price(master.prices, store, as_of)
    return {
        "store": store.ometria_id,
        "title": localized(data.name, store.locale),
        "url": _url(store, localized(data.slug, store.locale), product, parent, master.sku),
        "currency": store.currency,
        "price": _price_of(price, master, MASTER),
        "special_price": _price_of(price, master, MASTER, discounted=True),
        "image_url": master.images[0].url if master.images else None,
        "is_active": active,
    }
