import datetime as dt
import json

import pytest

from ct_ometria.commercetools.frames import customers_frame
from ct_ometria.commercetools.models import Customer
from ct_ometria.config import parse_mapping_config
from ct_ometria.local.sample import customer_document
from ct_ometria.mapping.common import InvalidField, iso8601, looks_personal, normalise_email
from ct_ometria.mapping.contacts import contact_record
from ct_ometria.mapping.frames import contacts_frame

MODIFIED = dt.datetime(2024, 3, 5, 12, 30, tzinfo=dt.timezone.utc)


def customer(**overrides) -> Customer:
    document = customer_document("6f1c0f5e-0000-4000-8000-000000000001", "  Ada.Lovelace@Example.COM ", MODIFIED)
    document.update(overrides)
    return Customer.model_validate(document)


def test_contact_record_exact_payload():
    config = parse_mapping_config({"stores": [{"key": "nl", "ometria_store_id": "shop.nl/nl"}]})
    record, _, _ = contact_record(
        customer(
            firstName="Ada",
            lastName="Lovelace",
            customerNumber="C-1",
            locale="en-GB",
            stores=[{"typeId": "store", "key": "nl"}],
            addresses=[{"id": "a1", "country": "GB"}],
            defaultBillingAddressId="a1",
            dateOfBirth="1815-12-10",
        ),
        config,
    )
    assert record == {
        "@type": "contact",
        "@collection": "default",
        "@merge": True,
        "id": "6f1c0f5e-0000-4000-8000-000000000001",
        "email": "ada.lovelace@example.com",
        "customer_id": "6f1c0f5e-0000-4000-8000-000000000001",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "date_of_birth": "1815-12-10",
        "country_id": "GB",
        "store_ids": ["shop.nl/nl"],
        "timestamp_acquired": "2024-02-04T12:30:00+00:00",
        "properties": {"locale": "en-GB"},
    }


def test_missing_values_are_not_sent_as_empty():
    record, _, _ = contact_record(customer(firstName="", lastName=None), parse_mapping_config({}))
    assert "firstname" not in record and "lastname" not in record and "store_ids" not in record


@pytest.mark.parametrize(
    ("strategy", "fields", "expected"),
    [
        ("id", {"customerNumber": "C-9"}, "6f1c0f5e-0000-4000-8000-000000000001"),
        ("customerNumber", {"customerNumber": "C-9"}, "C-9"),
        ("externalId", {"externalId": "ext-1"}, "ext-1"),
        ("key", {"key": "k-1"}, "k-1"),
        ("customerNumber", {}, "6f1c0f5e-0000-4000-8000-000000000001"),
    ],
)
def test_customer_id_follows_strategy(strategy, fields, expected):
    config = parse_mapping_config({"identity": {"customer_id_strategy": strategy}})
    record, _, _ = contact_record(customer(**fields), config)
    assert record["customer_id"] == expected
    assert record["id"] == "6f1c0f5e-0000-4000-8000-000000000001"


def test_a_numeric_customer_number_is_a_valid_customer_id():
    config = parse_mapping_config({"identity": {"customer_id_strategy": "customerNumber"}})
    assert contact_record(customer(customerNumber="100045678"), config)[0]["customer_id"] == "100045678"


def test_customer_id_that_is_an_email_is_refused_naming_the_field():
    config = parse_mapping_config({"identity": {"customer_id_strategy": "key"}})
    with pytest.raises(InvalidField, match=r"customer_id \(key\)") as raised:
        contact_record(customer(key="ada@example.com"), config)
    assert "ada@example.com" not in str(raised.value)


@pytest.mark.parametrize("raw", ["", "   ", "ada", "ada@", "@example.com", "a b@example.com"])
def test_malformed_emails_are_refused(raw):
    with pytest.raises(InvalidField, match="email"):
        normalise_email(raw)


def test_email_is_trimmed_and_lower_cased():
    assert normalise_email("  Ada.Lovelace@Example.COM\t") == "ada.lovelace@example.com"


@pytest.mark.parametrize(
    ("value", "personal"),
    [("ada@example.com", True), ("+44 7700 900123", True), ("+447700900123", True), ("C-000123", False),
     ("6f1c0f5e-0000-4000-8000-000000000001", False), ("12345", False), ("100045678", False)],
)  # fmt: skip
def test_looks_personal(value, personal):
    assert looks_personal(value) is personal


def test_iso8601_has_an_offset():
    assert iso8601(dt.datetime(2024, 1, 1, 8, 0)) == "2024-01-01T08:00:00+00:00"
    cet = dt.timezone(dt.timedelta(hours=1))
    assert iso8601(dt.datetime(2024, 1, 1, 9, 0, tzinfo=cet)) == "2024-01-01T08:00:00+00:00"


def test_frames_keep_bad_records_with_their_reason_and_map_the_rest():
    documents = [
        customer_document("c-1", "Good@Example.com", MODIFIED),
        customer_document("c-2", "not-an-email", MODIFIED),
        {"id": "c-3", "version": "seven", "lastModifiedAt": "2024-03-05T01:00:00.000Z"},
        customer_document("c-4", "older@example.com", MODIFIED, version=1),
        customer_document("c-4", "newer@example.com", MODIFIED, version=2),
    ]
    raw = customers_frame(documents)
    reasons = dict(zip(raw["id"], raw["rejection"], strict=True))
    assert reasons["c-1"] is None and reasons["c-4"] is None
    assert reasons["c-2"] == "email: not a valid email address"
    assert reasons["c-3"].startswith("version: input should be a valid integer")
    assert "email: field required" in reasons["c-3"]
    assert "not-an-email" not in reasons["c-2"]
    assert raw.set_index("id").loc["c-4", "version"] == 2

    mapped = contacts_frame(raw, parse_mapping_config({}))
    assert sorted(mapped["id"]) == ["c-1", "c-4"]
    records = {row.id: json.loads(row.record) for row in mapped.itertuples()}
    assert records["c-4"]["email"] == "newer@example.com"
    assert records["c-1"]["email"] == "good@example.com"
    assert mapped["rejection"].isna().all()
    assert set(mapped["partition"]) == {"2024-03-05"}


def test_oversized_contact_is_set_aside_by_the_mapped_schema():
    raw = customers_frame([customer_document("c-big", "big@example.com", MODIFIED, firstName="x" * 70_000)])
    mapped = contacts_frame(raw, parse_mapping_config({}))
    assert mapped.loc[0, "rejection"].startswith("record_bytes: record is over Ometria's 61440 bytes")
