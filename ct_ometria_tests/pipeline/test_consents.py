"""Consent is extracted from the configured custom fields or custom objects and travels with the contacts."""

import pandas as pd
from dagster import AssetKey

from ct_ometria.local.sample import customer_document
from ct_ometria_tests.pipeline.conftest import at

CONSENT = {"consent": {"email_optin_field": "newsletterOptIn", "email_optin_at_field": "newsletterOptInAt",
                       "sms_optin_field": "smsOptIn", "custom_object_container": "consents"}}  # fmt: skip


def custom(fields: dict) -> dict:
    return {"custom": {"type": {"typeId": "type", "id": "customer-consent"}, "fields": fields}}


def custom_object(object_id: str, key: str, value: object, modified: str) -> dict:
    return {"id": object_id, "version": 1, "container": "consents", "key": key, "value": value,
            "createdAt": modified, "lastModifiedAt": modified}  # fmt: skip


def test_consent_from_custom_fields_and_custom_objects_reaches_the_contacts_frame(
    emulator, sandbox, run_contacts, mapping_file, tmp_path
):
    day = at("2024-05-02", 8)
    emulator.seed(
        customer=[
            customer_document("c-in", "in@example.com", day, **custom({"newsletterOptIn": True, "newsletterOptInAt": "2024-05-01T10:00:00.000Z"})),
            customer_document("c-out", "out@example.com", day, **custom({"newsletterOptIn": False, "smsOptIn": False})),
            customer_document("c-none", "none@example.com", day),
            customer_document("c-bad", "bad@example.com", day, **custom({"newsletterOptIn": "yes"})),
            customer_document("c-object", "object@example.com", day),
        ],
        **{"key-value-document": [
            custom_object("co-1", "c-object", {"newsletterOptIn": True, "smsOptIn": True}, "2024-05-02T11:00:00.000Z"),
            custom_object("co-2", "Guest@Example.com", {"newsletterOptIn": False}, "2024-05-02T12:00:00.000Z"),
            custom_object("co-3", "c-none", {"unrelated": 1}, "2024-05-02T12:00:00.000Z"),
            custom_object("co-4", "c-in", {"newsletterOptIn": True}, "2024-05-03T12:00:00.000Z"),
        ]},
    )  # fmt: skip
    result = run_contacts("2024-05-02", mapping=mapping_file(CONSENT))
    assert result.success

    consents = pd.read_parquet(tmp_path / "frames" / "ct_consents" / "2024-05-02.parquet").set_index("id")
    assert consents.loc["c-in", "email_optin"] == True  # noqa: E712
    assert consents.loc["c-in", "email_optin_at"] == "2024-05-01T10:00:00+00:00"
    assert consents.loc["c-bad", "rejection"] == "newsletterOptIn: not a boolean"
    assert consents.loc["co-2", "email"] == "guest@example.com" and consents.loc["co-2", "source"] == "custom_object"
    assert consents.loc["co-3", "rejection"] == "value: holds no configured consent field"
    assert "co-4" not in consents.index and "c-none" not in consents.index

    contacts = pd.read_parquet(tmp_path / "frames" / "ometria_contacts" / "2024-05-02.parquet").set_index("id")
    assert contacts.loc["c-in", "email_optin"] == True  # noqa: E712
    assert contacts.loc["c-out", "email_optin"] == False and contacts.loc["c-out", "sms_optin"] == False  # noqa: E712
    assert contacts.loc["c-object", "email_optin"] == True and contacts.loc["c-object", "sms_optin"] == True  # noqa: E712
    assert pd.isna(contacts.loc["c-none", "email_optin"])
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey("ct_consents")]
    assert evaluation.passed and evaluation.metadata["invalid"].value == 2
    # Consent rules come with the identity-and-consent work: nothing about opt-in is sent yet.
    assert all("marketing_optin" not in contact for contact in sandbox.records("contact"))
