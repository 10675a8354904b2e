"""Store contexts, price selection and the product id strategies, as pure functions."""

import datetime as dt

import pytest

from ct_ometria.commercetools.models import Price, Product, Project, Store
from ct_ometria.config import parse_mapping_config
from ct_ometria.mapping.products import line_product_id, localized, parent_id, product_records, select_price
from ct_ometria.mapping.stores import StoreContext, resolve_stores, store_for
from ct_ometria_tests.pipeline import commerce_data as data

NOW = dt.datetime(2024, 5, 2, 12, tzinfo=dt.timezone.utc)


def test_stores_are_discovered_from_commercetools_and_completed_by_config():
    stores = [Store.model_validate(document) for document in data.STORES]
    project = Project(key="p", currencies=["EUR", "GBP"], languages=["en-GB", "nl-NL"], countries=["NL", "GB"])
    config = parse_mapping_config({"stores": [{"key": "uk-store", "ometria_store_id": "uk", "currency": "EUR"}]})
    contexts = resolve_stores(stores, project, config)
    assert contexts["nl-store"] == StoreContext("nl-store", "nl-store", "nl-NL", "EUR", "NL")
    assert contexts["uk-store"] == StoreContext("uk-store", "uk", "en-GB", "EUR", "GB")  # config wins


def test_a_project_without_stores_gets_one_default_store_from_the_project():
    project = Project(key="p", currencies=["SEK"], languages=["sv-SE"], countries=["SE"])
    contexts = resolve_stores([], project, parse_mapping_config({}))
    assert contexts == {"default": StoreContext("default", "default", "sv-SE", "SEK", "SE")}
    assert store_for(None, contexts, parse_mapping_config({})).key == "default"


def test_store_currency_follows_the_country_when_the_project_sells_in_it():
    stores = [Store.model_validate(document) for document in data.STORES]
    contexts = resolve_stores(stores, Project(key="p", currencies=["EUR"]), parse_mapping_config({}))
    assert contexts["uk-store"].currency == "EUR"  # GBP is not sold: the project's currency


def price(cents, currency="EUR", country=None, **extra):
    return Price.model_validate({"value": {"currencyCode": currency, "centAmount": cents, "fractionDigits": 2},
                                 **({"country": country} if country else {}), **extra})  # fmt: skip


def test_price_selection_prefers_the_most_specific_valid_price():
    store = StoreContext("nl", "nl", "nl-NL", "EUR", "NL", channels=("ch-1",))
    prices = [
        price(100), price(200, country="NL"), price(300, country="DE"), price(400, "GBP", "NL"),
        price(500, country="NL", channel={"typeId": "channel", "id": "ch-1"}),
        price(600, country="NL", channel={"typeId": "channel", "id": "ch-other"}),
        price(700, country="NL", customerGroup={"typeId": "customer-group", "id": "vip"}),
        price(800, country="NL", validFrom="2024-06-01T00:00:00Z"),
    ]  # fmt: skip
    assert select_price(prices, store, NOW).value.cent_amount == 500
    assert select_price(prices[:3], store, NOW).value.cent_amount == 200
    assert select_price(prices[:1], store, NOW).value.cent_amount == 100
    assert select_price(prices[2:4], store, NOW) is None


@pytest.mark.parametrize(("strategy", "parent", "line"), [("key", "tee", "tee"), ("id", "prod-tee", "prod-tee"), ("sku", "TEE-M", "TEE-L")])
def test_product_id_strategies_agree_between_products_and_order_lines(strategy, parent, line):
    assert parent_id("prod-tee", "tee", "TEE-M", strategy) == parent
    assert line_product_id("prod-tee", "tee", "TEE-L", strategy) == line
    config = parse_mapping_config({"products": {"id_strategy": strategy}})
    stores = [StoreContext("nl", "nl", "nl-NL", "EUR", "NL")]
    ids = {r["id"] for r in product_records(Product.model_validate(data.TEE), None, stores, config, NOW)}
    assert line in ids  # every id an order line can carry is a product Ometria receives


def test_localized_falls_back_to_the_language_then_any_locale():
    assert localized({"nl-NL": "Shirt", "en-GB": "Tee"}, "nl-BE") == "Shirt"
    assert localized({"en-GB": "Tee"}, "de-DE") == "Tee"
    assert localized({}, "de-DE") is None


def test_a_channel_price_beats_a_country_price_as_in_commercetools():
    store = StoreContext("nl", "nl", "nl-NL", "EUR", "NL", channels=("ch-1",))
    prices = [price(200, country="NL"), price(300, channel={"typeId": "channel", "id": "ch-1"})]
    assert select_price(prices, store, NOW).value.cent_amount == 300


def test_the_default_store_comes_first():
    stores = [Store.model_validate(document) for document in data.STORES]
    config = parse_mapping_config({"default_store": "uk-store"})
    assert list(resolve_stores(stores, Project(key="p"), config)) == ["uk-store", "nl-store"]
