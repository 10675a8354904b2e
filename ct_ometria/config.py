"""The mapping config: stores, locales, currencies, consent fields, identity and field ownership.

It is a YAML file named by ``CT_OMETRIA_CONFIG``; without one, the defaults below serve a
single-store project. Every error names the file and the key that is wrong.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ct_ometria.errors import ConfigError

CustomerIdStrategy = Literal["id", "customerNumber", "externalId", "key"]
Ownership = Literal["commercetools", "ometria_on_create", "ometria"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    """One commercetools store and how Ometria knows it."""

    key: str = Field(min_length=1)
    ometria_store_id: str | None = None
    # The store's main locale and currency; the first of `locales`/`currencies` when not given,
    # then what commercetools says about the store and the project.
    locale: str | None = None
    locales: list[str] = Field(default_factory=list)
    currency: str | None = None
    currencies: list[str] = Field(default_factory=list)
    country: str | None = None
    # Product URL, e.g. "https://shop.example.nl/{locale}/p/{slug}"; fields: slug, locale, key, id, sku, store.
    url_template: str | None = None
    # Send this store's opt-ins with @force_optin, so they win over other listings' opt-outs.
    # Only for stores whose opt-in is a deliberate, recorded consent (e.g. a double opt-in).
    force_optin: bool = False

    @field_validator("currencies")
    @classmethod
    def _iso_currencies(cls, value: list[str]) -> list[str]:
        for code in value:
            _check_currency(code)
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        return None if value is None else _check_currency(value)

    @field_validator("url_template")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)

    @property
    def ometria_id(self) -> str:
        return self.ometria_store_id or self.key


def _check_currency(code: str) -> str:
    if len(code) != 3 or not code.isalpha() or not code.isupper():
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


URL_FIELDS = ("slug", "locale", "key", "id", "sku", "store")


def _check_template(template: str) -> str:
    import string

    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in URL_FIELDS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {', '.join(URL_FIELDS)}")
    return template


class ProductsConfig(_Strict):
    # Ometria product id: the commercetools product key, id, or the master variant's SKU.
    id_strategy: Literal["key", "id", "sku"] = "key"
    url_template: str | None = None
    # Product attributes sent to Ometria (by commercetools attribute name); all others stay behind.
    attributes: list[str] = Field(default_factory=list)

    @field_validator("url_template")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)


class OrdersConfig(_Strict):
    # Ometria order id: the commercetools id (default: never changes), or the order number shoppers
    # see. Choose orderNumber only if every order has its number from creation on: a number set
    # later would make Ometria count the order twice.
    id_strategy: Literal["id", "orderNumber"] = "id"


class IdentityConfig(_Strict):
    customer_id_strategy: CustomerIdStrategy = "id"
    contact_collection: str = Field(default="default", min_length=1)


class SuppressionConfig(_Strict):
    """Who must never be marketed to, whatever their consent says."""

    # A customer custom field (boolean) that is true for suppressed customers.
    custom_field: str | None = None
    # Customers in any of these customer groups (by key or id) are suppressed.
    customer_groups: list[str] = Field(default_factory=list)
    # A custom-object container listing suppressed emails: one object per email, whose value holds
    # ``{"email": ...}`` trimmed and lower-cased (keys may not contain "@", and predicates compare
    # exactly); ``"suppressed": false`` lifts it.
    custom_object_container: str | None = None


class ConsentConfig(_Strict):
    """Where consent lives in commercetools; the rules that use it are the mapping's."""

    email_optin_field: str | None = None
    email_optin_at_field: str | None = None
    sms_optin_field: str | None = None
    sms_optin_at_field: str | None = None
    custom_object_container: str | None = None
    # An order custom field (boolean) holding the opt-in a shopper gave at checkout: the consent
    # source for guests, who have no customer record.
    order_optin_field: str | None = None
    suppression: SuppressionConfig = SuppressionConfig()

    def order_fields(self) -> list[tuple[str, str]]:
        return [("consent.order_optin_field", self.order_optin_field)] if self.order_optin_field else []

    def custom_fields(self) -> list[tuple[str, str]]:
        """(config key, field name) of every configured customer custom field."""
        keys = ("email_optin_field", "email_optin_at_field", "sms_optin_field", "sms_optin_at_field")
        named = [(f"consent.{key}", getattr(self, key)) for key in keys if getattr(self, key)]
        if self.suppression.custom_field:
            named.append(("consent.suppression.custom_field", self.suppression.custom_field))
        return named


class SyncConfig(_Strict):
    start_date: dt.date = dt.date(2020, 1, 1)
    # A partition whose share of invalid records exceeds this fails its blocking check; below it,
    # invalid records are set aside with their reason and the valid ones flow on.
    max_invalid_share: float = Field(default=0.05, ge=0.0, le=1.0)
    invalid_records_tolerated: int = Field(default=10, ge=0)
    page_size: int = Field(default=500, ge=1, le=500)
    # A backfill runs as one Dagster run per this many days (a UI backfill and `ct-ometria sync`):
    # memory holds that many days of records, never the whole history, and runs of the same
    # backfill can push while others extract.
    days_per_run: int = Field(default=7, ge=1, le=366)
    # `ct-ometria sync` sizes its runs by volume instead: consecutive days join one run while the
    # customers, orders and products last modified in them stay within this many (a day above it runs
    # alone). A run's memory follows its documents, and each run costs a few seconds of bookkeeping,
    # so a small store's year is one run and a big store's is cut finer. null: runs of days_per_run.
    records_per_run: int | None = Field(default=25_000, ge=100)


class EventsConfig(_Strict):
    """Near-real-time events."""

    # Storefront event types the collector accepts (each must be configured in Ometria too).
    storefront_types: list[str] = Field(
        default_factory=lambda: ["product_viewed", "product_list_viewed", "search", "wishlist_added"]
    )
    # The project's message retention (commercetools `deleteDaysAfterCreation`, 1..90, default 15):
    # a cursor older than this has lost messages, and the affected entities are re-synced by window.
    message_retention_days: int = Field(default=15, ge=1, le=90)
    # How far back the first poll looks when no cursor exists yet (the daily sync covers the past).
    initial_lookback_minutes: int = Field(default=60, ge=1)
    # Re-read this much before the cursor: a write can become visible with an earlier timestamp.
    overlap_seconds: int = Field(default=60, ge=0)

    @field_validator("storefront_types")
    @classmethod
    def _short_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not 0 < len(name) <= 32 or not name.replace("_", "").isalnum()]
        if bad:
            raise ValueError(f"event types must be 1..32 letters, digits or underscores: {bad}")
        return value


class MappingConfig(_Strict):
    stores: list[StoreConfig] = Field(default_factory=list)
    default_store: str | None = None
    identity: IdentityConfig = IdentityConfig()
    consent: ConsentConfig = ConsentConfig()
    ownership: dict[str, Ownership] = Field(default_factory=dict)
    products: ProductsConfig = ProductsConfig()
    orders: OrdersConfig = OrdersConfig()
    sync: SyncConfig = SyncConfig()
    events: EventsConfig = EventsConfig()

    @field_validator("ownership")
    @classmethod
    def _consent_and_identity_stay_ours(cls, value: dict[str, str]) -> dict[str, str]:
        # An opt-out or a suppression must always reach Ometria, and identifiers decide identity.
        protected = {"id", "email", "customer_id", "marketing_optin", "timestamp_subscribed", "timestamp_unsubscribed",
                     "channels", "@force_optin", "@merge", "@collection", "@type", "store_ids"}  # fmt: skip
        taken = sorted(set(value) & protected)
        if taken:
            raise ValueError(f"ownership cannot cover identity or consent fields: {taken}")
        return value

    @model_validator(mode="after")
    def _default_store_is_known(self) -> MappingConfig:
        keys = [store.key for store in self.stores]
        if len(set(keys)) != len(keys):
            raise ValueError(f"store keys must be unique, got {keys}")
        # default_store may name a store only commercetools knows: stores are discovered there.
        return self

    def store(self, key: str) -> StoreConfig | None:
        return next((store for store in self.stores if store.key == key), None)

    def ometria_store_id(self, store_key: str) -> str:
        for store in self.stores:
            if store.key == store_key:
                return store.ometria_id
        return store_key


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {key}: {item['msg']}")
    return f"invalid mapping config {source}:\n" + "\n".join(lines)


def parse_mapping_config(data: object, source: str = "(inline)") -> MappingConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"invalid mapping config {source}: the top level must be a mapping")
    try:
        return MappingConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_mapping_config(path: str | Path | None) -> MappingConfig:
    """Load and validate the YAML file, or return the single-store defaults when ``path`` is None."""
    if path is None:
        return MappingConfig()
    source = f"CT_OMETRIA_CONFIG={path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {source}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source} is not valid YAML: {error}") from None
    return parse_mapping_config(data, source)
