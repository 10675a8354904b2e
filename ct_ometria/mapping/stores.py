"""Store context: which Ometria store, locale, currency, country and channels a record belongs to.

commercetools says most of it (Stores with their languages, countries and distribution channels;
the project's currencies, languages and countries); the mapping config completes and overrides it,
so a multi-store project works with little or no configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import get_territory_currencies

from ct_ometria.commercetools.models import Project, Store
from ct_ometria.config import MappingConfig, StoreConfig

DEFAULT_STORE_KEY = "default"


@dataclass(frozen=True)
class StoreContext:
    key: str
    ometria_id: str
    locale: str | None
    currency: str | None
    country: str | None
    channels: tuple[str, ...] = ()
    url_template: str | None = None


def _first(*candidates: object) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, list):
            candidate = candidate[0] if candidate else None
        if candidate:
            return str(candidate)
    return None


def _context(key: str, store: Store | None, configured: StoreConfig | None, project: Project | None,
             config: MappingConfig) -> StoreContext:  # fmt: skip
    configured = configured or StoreConfig(key=key)
    countries = [country.get("code") for country in (store.countries if store else []) if country.get("code")]
    return StoreContext(
        key=key,
        ometria_id=configured.ometria_store_id or key,
        locale=_first(configured.locale, configured.locales, store.languages if store else None,
                      project.languages if project else None),  # fmt: skip
        currency=_first(configured.currency, configured.currencies,
                        _country_currency(_first(configured.country, countries), project),
                        project.currencies if project else None),  # fmt: skip
        country=_first(configured.country, countries, project.countries if project else None),
        channels=tuple(ref.id for ref in (store.distribution_channels if store else []) if ref.id),
        url_template=configured.url_template or config.products.url_template,
    )


def _country_currency(country: str | None, project: Project | None) -> str | None:
    """The currency of the store's country (babel's territory data), when the project sells in it."""
    if not country:
        return None
    try:
        candidates = get_territory_currencies(country)
    except (ValueError, KeyError):
        return None
    offered = project.currencies if project else []
    return next((code for code in candidates if not offered or code in offered), None)


def resolve_stores(stores: list[Store], project: Project | None, config: MappingConfig) -> dict[str, StoreContext]:
    """Every store by key: commercetools' stores, plus stores only the config names, or one default."""
    contexts = {store.key: _context(store.key, store, config.store(store.key), project, config) for store in stores}
    for configured in config.stores:
        contexts.setdefault(configured.key, _context(configured.key, None, configured, project, config))
    if not contexts:
        key = config.default_store or DEFAULT_STORE_KEY
        contexts[key] = _context(key, None, config.store(key), project, config)
    if config.default_store in contexts:
        # The default store comes first: a product's own title, URL and price are its.
        contexts = {config.default_store: contexts[config.default_store], **contexts}
    return contexts


def store_for(key: str | None, contexts: dict[str, StoreContext], config: MappingConfig) -> StoreContext:
    """The context of a record's store key; records without one belong to the default store."""
    if key and key in contexts:
        return contexts[key]
    if key:
        return StoreContext(key=key, ometria_id=config.ometria_store_id(key), locale=None, currency=None, country=None)
    default = config.default_store or (next(iter(contexts)) if len(contexts) == 1 else DEFAULT_STORE_KEY)
    return contexts.get(default) or StoreContext(default, default, None, None, None)
