"""What the hostile documents found, one example each: every one of these once mapped a broken value,
raised, or parked a record without naming its field."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from ct_ometria.commercetools.consent import consent_frame
from ct_ometria.commercetools.frames import ORDERS, OUT_OF_RANGE, customers_frame, entity_frame
from ct_ometria.config import parse_mapping_config
from ct_ometria.local.sample import customer_document
from ct_ometria_tests.hostile.frames import extract_and_map, outcome
from ct_ometria_tests.hostile.strategies import DAY
from ct_ometria_tests.pipeline import commerce_data as data

MODIFIED = dt.datetime(2024, 5, 2, 9, tzinfo=dt.timezone.utc)
ORDER = data.ORDERS[0]  # two lines, taxed, shipped, with shipping


def _set(document: dict, path: tuple, value) -> dict:
    document = copy.deepcopy(document)
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return document


def reasons_of(entity: str, document: dict) -> list[str]:
    extracted, mapped = extract_and_map(entity, [document])
    return outcome(extracted, mapped, document["id"])[0]


@pytest.mark.parametrize(
    ("entity", "document", "path", "value"),
    [
        ("order", ORDER, ("totalPrice", "centAmount"), True),
        ("order", ORDER, ("totalPrice", "centAmount"), "4993"),
        ("order", ORDER, ("lineItems", 0, "totalPrice", "centAmount"), 3598.0),
        ("order", ORDER, ("lineItems", 0, "price", "value", "fractionDigits"), True),
        ("order", ORDER, ("lineItems", 1, "quantity"), 1.0),
        ("order", ORDER, ("lineItems", 1, "quantity"), "1"),
        ("order", ORDER, ("completedAt",), 1714640400),
        ("product", data.MUG, ("masterData", "published"), 1),
        ("product", data.MUG, ("masterData", "published"), "true"),
        ("product", data.MUG, ("masterData", "current", "masterVariant", "prices", 0, "validUntil"), 0),
        ("customer", customer_document("c-1", "ada@example.com", MODIFIED), ("dateOfBirth",), 0),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_refused_naming_its_field_never_coerced(entity, document, path, value):
    document = _set(document, path, value)
    document["lastModifiedAt"] = f"{DAY}T09:00:00.000Z"
    reasons = reasons_of(entity, document)
    field = ".".join(str(part) for part in path)
    assert reasons and reasons[0].startswith(f"{field}: "), reasons


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        # The taxed gross is the grand total, but a negative total price is still a broken order.
        (("totalPrice", "centAmount"), -4993, "totalPrice: negative amount"),
        (("taxedPrice", "totalGross", "currencyCode"), "USD", "taxedPrice.totalGross.currencyCode: differs from the order's currency"),
        (("taxedPrice", "totalTax", "currencyCode"), "GBP", "taxedPrice.totalTax.currencyCode: differs from the order's currency"),
        (("shippingInfo", "price", "currencyCode"), "JPY", "shippingInfo.price.currencyCode: differs from the order's currency"),
    ],
)  # fmt: skip
def test_every_amount_of_an_order_is_read_and_in_the_orders_currency(path, value, reason):
    assert reasons_of("order", _set(ORDER, path, value)) == [reason]


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("customerEmail",), "shopper.at.example.com", "customerEmail: not a valid email address"),
        (("totalPrice", "currencyCode"), "eur", "totalPrice.currencyCode: not an ISO 4217 currency code"),
        (("orderState",), "Shipped", "orderState: not an order state"),
    ],
)  # fmt: skip
def test_an_extracted_orders_reason_names_the_field_of_the_document_not_the_frames_column(path, value, reason):
    assert reasons_of("order", _set(ORDER, path, value)) == [reason]


@pytest.mark.parametrize(
    ("entity", "document", "path", "value"),
    [
        ("order", ORDER, ("orderNumber",), "ORD-\u200f1"),
        ("order", ORDER, ("orderNumber",), "A" * 256),
        ("order", ORDER, ("orderNumber",), " ORD-1"),
        ("order", ORDER, ("lineItems", 0, "productKey"), "tee\x00"),
        ("order", ORDER, ("lineItems", 0, "variant", "sku"), "TEE\u202eM"),
        ("product", data.MUG, ("key",), "\u200b"),
        ("product", data.MUG, ("key",), "mug\u2028"),
        ("product", data.TEE, ("masterData", "current", "variants", 0, "sku"), "T" * 300),
    ],
)  # fmt: skip
def test_an_id_that_is_blank_too_long_or_unprintable_is_refused_naming_its_source_field(entity, document, path, value):
    field = ".".join(str(part) for part in path)
    reasons = reasons_of(entity, _set(document, path, value))
    assert len(reasons) == 1 and reasons[0].startswith(f"{field}: ") and "cannot be an Ometria id" in reasons[0], reasons


def test_a_record_over_60_kb_is_parked_naming_its_largest_value():
    document = customer_document("c-big", "big@example.com", MODIFIED, firstName="\u00e9" * 40_000)
    [reason] = reasons_of("customer", document)
    assert reason.startswith("record_bytes: record is over Ometria's 61440 bytes; firstname: its largest value, 80002 bytes")


def test_a_product_whose_parent_is_too_large_keeps_its_variants_back_too():
    document = _set(data.MUG, ("masterData", "current", "slug"), {"nl-NL": "m" * 70_000, "en-GB": "mug"})
    _, mapped = extract_and_map("product", [document])
    assert sorted(mapped["id"]) == ["MUG-1", "mug"]
    assert mapped["rejection"].notna().all(), mapped[["id", "rejection"]]
    assert mapped["rejection"].str.contains("url: its largest value").all()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (("masterData", "current", "masterVariant", "prices", 1, "value", "centAmount"),
         "masterData.current.masterVariant.prices.1.value: negative amount"),
        (("masterData", "current", "masterVariant", "prices", 0, "discounted", "value", "centAmount"),
         "masterData.current.masterVariant.prices.0.discounted.value: negative amount"),
        (("masterData", "current", "variants", 0, "prices", 0, "value", "centAmount"),
         "masterData.current.variants.0.prices.0.value: negative amount"),
    ],
)  # fmt: skip
def test_a_broken_price_is_named_by_its_place_in_the_product(path, reason):
    document = copy.deepcopy(data.TEE if "variants" in path else data.MUG)
    document["masterData"]["staged"] = copy.deepcopy(document["masterData"]["current"])
    assert set(reasons_of("product", _set(document, path, -1))) == {reason}


def test_a_product_that_cannot_map_leaves_its_neighbours_valid():
    broken = _set(data.MUG, ("masterData", "current", "masterVariant", "prices", 0, "value", "centAmount"), -1)
    _, mapped = extract_and_map("product", [broken, data.TEE])
    reasons = dict(zip(mapped["id"], mapped["rejection"], strict=True))
    assert reasons.pop("prod-mug").endswith("negative amount")
    assert sorted(reasons) == ["TEE-L", "TEE-M", "tee"] and all(r is None for r in reasons.values()), reasons


@pytest.mark.parametrize("custom", ["newsletter", [{"fields": {"checkout_optin": True}}], {"fields": "checkout_optin"}])
def test_an_order_whose_custom_fields_are_broken_gives_no_checkout_consent_and_raises_nothing(custom):
    orders = entity_frame([{**ORDER, "custom": custom}, data.ORDERS[3]], ORDERS)
    consent = parse_mapping_config({"consent": {"order_optin_field": "checkout_optin"}}).consent
    frame = consent_frame(customers_frame([]), [], consent, [], orders)
    assert frame.empty


def test_an_order_completed_in_the_future_is_parked_naming_completed_at():
    assert reasons_of("order", {**ORDER, "completedAt": "9999-12-31T23:59:59.999Z"}) == [
        "completedAt: is later than the order's last modification"]
    assert reasons_of("order", {**ORDER, "completedAt": ORDER["lastModifiedAt"]}) == []


def test_a_customer_born_in_the_future_is_parked_naming_date_of_birth():
    document = customer_document("c-1", "ada@example.com", MODIFIED, dateOfBirth="3000-01-01")
    assert reasons_of("customer", document) == ["dateOfBirth: is later than the customer's last modification"]
    assert reasons_of("customer", {**document, "dateOfBirth": "1815-12-10"}) == []


@pytest.mark.parametrize(
    ("value", "label"),
    [({"key": "red", "label": {"nl-NL": 5, "en-GB": 5}}, "5"), ({"key": "red", "label": {"nl-NL": ["Rood"]}}, "red"),
     ({"key": "red", "label": None}, "red")],
)  # fmt: skip
def test_an_attribute_label_is_always_text(value, label):
    document = _set(data.MUG, ("masterData", "current", "masterVariant", "attributes"), [{"name": "color", "value": value}])
    _, mapped = extract_and_map("product", [document])
    record = json.loads(mapped.set_index("id").loc["mug", "record"])
    assert record["attributes"] == [{"type": "color", "id": "red", "label": label}]


def test_a_broken_money_attribute_is_named_by_its_place():
    money = {"type": "centPrecision", "currencyCode": "EUR", "centAmount": -5, "fractionDigits": 2}
    document = _set(data.MUG, ("masterData", "current", "masterVariant", "attributes"), [{"name": "color", "value": money}])
    assert set(reasons_of("product", document)) == {"masterData.current.masterVariant.attributes.0.value: negative amount"}


@pytest.mark.parametrize(
    "moment",
    ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59+02:00", "9999-12-31T23:59:59-02:00",
     "0001-01-01T00:00:00+01:00", "2024-05-02T09:00:00x"],
)  # fmt: skip
def test_a_last_modification_a_frame_cannot_hold_parks_its_document_and_not_its_neighbours(moment):
    broken = {**customer_document("c-1", "ada@example.com", MODIFIED), "lastModifiedAt": moment}
    frame = customers_frame([broken, customer_document("c-2", "grace@example.com", MODIFIED)]).set_index("id")
    assert frame.loc["c-1", "rejection"].startswith("lastModifiedAt: ")
    if not moment.endswith("x"):  # pydantic reads the others; the reason says why the frame cannot
        assert frame.loc["c-1", "rejection"] == f"lastModifiedAt: {OUT_OF_RANGE}"
    assert frame.loc["c-2", "rejection"] is None and frame.loc["c-2", "partition"] == "2024-05-02"


CONSENT = parse_mapping_config({"consent": {"email_optin_field": "newsletterOptIn", "custom_object_container": "consents",
                                            "order_optin_field": "checkout_optin"}}).consent  # fmt: skip


def _consent_object(object_id: str, modified: object) -> dict:
    return {"id": object_id, "version": 1, "container": "consents", "key": object_id, "createdAt": "2024-05-02T09:00:00.000Z",
            "lastModifiedAt": modified, "value": {"email": f"{object_id}@example.com", "newsletterOptIn": True}}  # fmt: skip


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z", "soon", None, 5])
def test_a_consent_object_whose_moment_a_frame_cannot_hold_is_parked_and_not_its_neighbours(moment):
    objects = [_consent_object("bad", moment), _consent_object("good", "2024-05-02T09:00:00.000Z")]
    frame = consent_frame(customers_frame([]), objects, CONSENT).set_index("id")
    reason = frame.loc["bad", "rejection"]
    expected = {None: "is missing", "soon": "is not a date-time", 5: "is not a date-time"}.get(moment, OUT_OF_RANGE)
    assert reason == f"lastModifiedAt: {expected}"
    assert frame.loc["good", "rejection"] is None and frame.loc["good", "partition"] == "2024-05-02"


def test_a_suppression_of_an_unknown_email_whose_moment_a_frame_cannot_hold_is_parked():
    suppressed = [{"id": "s-1", "container": "suppressed", "key": "s-1", "lastModifiedAt": "9999-12-31T00:00:00.000Z",
                   "value": {"email": "gone@example.com", "suppressed": True}},
                  {"id": "s-2", "container": "suppressed", "key": "s-2", "lastModifiedAt": "2024-05-02T09:00:00.000Z",
                   "value": {"email": "also-gone@example.com", "suppressed": True}}]  # fmt: skip
    frame = consent_frame(customers_frame([]), [], CONSENT, suppressed).set_index("id")
    assert frame.loc["s-1", "rejection"] == f"lastModifiedAt: {OUT_OF_RANGE}"
    assert frame.loc["s-2", "rejection"] is None and frame.loc["s-2", "partition"] == "2024-05-02"


def test_a_checkout_opt_in_on_an_order_created_in_year_9999_is_parked_naming_created_at():
    broken = {**ORDER, "id": "o-late", "createdAt": "9999-12-31T23:59:59.999Z", "custom": {"fields": {"checkout_optin": True}}}
    fine = {**data.ORDERS[3], "custom": {"fields": {"checkout_optin": True}}}
    frame = consent_frame(customers_frame([]), [], CONSENT, [], entity_frame([broken, fine], ORDERS)).set_index("id")
    assert frame.loc["o-late", "rejection"] == f"createdAt: {OUT_OF_RANGE}"
    assert frame.loc[fine["id"], "rejection"] is None
    assert frame.loc[fine["id"], "email_optin_at"] == dt.datetime.fromisoformat(fine["createdAt"].replace("Z", "+00:00")).isoformat()
