"""commercetools query predicates are built from config (custom-object containers) and data (ids,
emails): crafted values, run against the emulator through every function that builds a predicate,
match exactly what holds that value and nothing else, because values travel as input variables
(``var.name``) and never become predicate syntax."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from ct_ometria.commercetools.client import CommercetoolsClient
from ct_ometria.commercetools.consent import fetch_consent_objects, fetch_suppressed
from ct_ometria.commercetools.resolve import fetch_by_ids
from ct_ometria.defs.ometria import _customers_of_consents
from ct_ometria.defs.resources import CommercetoolsResource
from ct_ometria.events.effects import Effects
from ct_ometria.local.sample import customer_document
from ct_ometria.settings import commercetools_from_env
from ct_ometria_tests.pipeline.commerce_data import money

UTC = dt.timezone.utc
DAY = dt.datetime(2024, 5, 2, tzinfo=UTC)
STAMP = "2024-05-02T09:00:00.000Z"
# Values that would widen a predicate if they were pasted into it.
CRAFTED = [
    'x" or id != "', "x' or id != 'x", 'x") or (1 = 1', 'x" or true or "', "x\nor true", 'x"\n or id is defined --',
    "*", "%", 'x\\" or id != \\"', " or true", "", 'x"] or id != ["',
]  # fmt: skip
TRAP = 'c-trap" or id != "'  # an id that is itself a crafted value: it must match only itself


def client_for(emulator) -> CommercetoolsClient:
    return CommercetoolsClient(commercetools_from_env(emulator.env()))


def co(object_id: str, container: str, key: str, value: dict) -> dict:
    return {"id": object_id, "version": 1, "container": container, "key": key, "value": value, "createdAt": STAMP,
            "lastModifiedAt": STAMP}  # fmt: skip


@pytest.fixture
def shop(emulator):
    emulator.seed(
        customer=[customer_document(i, f"{i}@example.com", DAY + dt.timedelta(hours=1)) for i in ("c-1", "c-2", TRAP)],
        **{"key-value-document": [co("co-1", "consents", "c-1", {"newsletterOptIn": True}),
                                  co("co-2", "consents", "c-2", {"newsletterOptIn": False}),
                                  co("co-3", CRAFTED[0], "c-3", {"newsletterOptIn": True}),
                                  co("sup-1", "suppressed-emails", "sup-1", {"email": "c-1@example.com"})]},
        payment=[{"id": pid, "version": 1, "amountPlanned": money(100), "transactions": [], "interfaceInteractions": [],
                  "paymentStatus": {}, "createdAt": STAMP, "lastModifiedAt": STAMP} for pid in ("pay-1", "pay-2")],
        order=[{"id": f"o-{n}", "version": 1, "createdAt": STAMP, "lastModifiedAt": STAMP, "lineItems": [],
                "customLineItems": [], "totalPrice": money(100), "orderState": "Open", "syncInfo": [], "returnInfo": [],
                "refusedGifts": [], "origin": "Customer", "taxMode": "Platform", "inventoryMode": "None",
                "taxRoundingMode": "HalfEven", "taxCalculationMode": "LineItemLevel", "discountCodes": [],
                "paymentInfo": {"payments": [{"typeId": "payment", "id": f"pay-{n}"}]}} for n in (1, 2)],
    )  # fmt: skip
    return emulator


def test_ids_read_by_id_match_only_themselves(shop):
    with client_for(shop) as client:
        assert set(fetch_by_ids(client, "customers", ["c-1"])) == {"c-1"}  # the predicate works at all
        assert fetch_by_ids(client, "customers", CRAFTED) == {}
        assert set(fetch_by_ids(client, "customers", [*CRAFTED, TRAP])) == {TRAP}
        assert fetch_by_ids(client, "orders", CRAFTED) == {}


def test_a_crafted_custom_object_container_from_the_config_matches_no_other_container(shop):
    with client_for(shop) as client:
        window = (DAY, DAY + dt.timedelta(days=1))
        assert {d["id"] for d in fetch_consent_objects(client, "consents", *window)} == {"co-1", "co-2"}
        for container in CRAFTED[1:]:
            assert fetch_consent_objects(client, container, *window) == [], container
        # A container whose name is itself crafted holds its own objects, and only those.
        assert [d["id"] for d in fetch_consent_objects(client, CRAFTED[0], *window)] == ["co-3"]


def test_crafted_emails_and_containers_match_no_suppression_entry(shop):
    with client_for(shop) as client:
        assert [d["id"] for d in fetch_suppressed(client, "suppressed-emails", ["c-1@example.com"])] == ["sup-1"]
        assert fetch_suppressed(client, "suppressed-emails", [f"c-1@example.com{c}" for c in CRAFTED if c] + CRAFTED) == []
        for container in CRAFTED:
            assert fetch_suppressed(client, container, ["c-1@example.com"]) == [], container


def test_crafted_emails_from_a_suppression_list_read_no_other_customer(shop):
    resource = CommercetoolsResource(**{k.removeprefix("CTP_").lower(): v for k, v in shop.env().items()})
    customers = pd.DataFrame({"id": ["c-9"], "email": ["c-9@example.com"]})

    def listed(*emails: str) -> pd.DataFrame:
        return pd.DataFrame({"id": [f"s-{i}" for i in range(len(emails))], "customer": [None] * len(emails),
                             "email": list(emails), "source": "suppression_list", "partition": "2024-05-02",
                             "rejection": None})  # fmt: skip

    assert list(_customers_of_consents(customers, listed("c-2@example.com"), resource)["id"]) == ["c-2"]
    crafted = [f'c-2@example.com" or email != "{c}' for c in CRAFTED] + CRAFTED
    assert _customers_of_consents(customers, listed(*crafted), resource).empty


def test_crafted_payment_ids_read_no_order(shop):
    with client_for(shop) as client:
        effects = SimpleNamespace(ct=client)  # the method reads through ``self.ct`` only
        assert [o["id"] for o in Effects._orders_of_payments(effects, ["pay-2"])] == ["o-2"]
        assert Effects._orders_of_payments(effects, CRAFTED) == []


@pytest.mark.parametrize("where", ['id = "c-1" or id != "c-1"', "id = 'c-1'", 'id = :a or email = "c-2@example.com"',
                                   "id = :a\nor true", 'id in ("c-1")'])  # fmt: skip
def test_a_predicate_holding_a_literal_is_refused_before_any_request(shop, where):
    """The client enforces the rule for code still to be written: a value pasted into a predicate
    (the way a crafted value widens a query) never reaches commercetools."""
    with client_for(shop) as client:
        with pytest.raises(ValueError, match="a predicate holds a literal value; pass values as input variables") as raised:
            client.get("/customers", [("where", where), ("var.a", "c-1")])
        with pytest.raises(ValueError):
            list(client.pages("customers", where=where, variables={"a": "c-1"}))
        assert client.requests == 0
    assert "c-1" not in str(raised.value) and "example.com" not in str(raised.value)
