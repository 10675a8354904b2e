"""Consent is extracted from the configured custom fields or custom objects and travels with the contacts."""

import pandas as pd
from dagster import AssetKey

from ct_ometria.local.sample import customer_document
from ct_ometria_tests.pipeline.conftest import at

CONSENT = {"consent": {"email_optin_field": "newsletterOptIn", "email_optin_at_field": "newsletterOptInAt",
                       "sms_optin_field": "smsOptIn", "custom_object_container": "consents"}}  # fmt: skip


CONSENT_TYPE = {
    "id": "customer-consent", "version": 1, "key": "customer-consent", "name": {"en-GB": "Consent"},
    "resourceTypeIds": ["customer"], "createdAt": "2024-01-01T00:00:00.000Z", "lastModifiedAt": "2024-01-01T00:00:00.000Z",
    "fieldDefinitions": [
        {"name": name, "label": {"en-GB": name}, "required": False, "type": {"name": kind}, "inputHint": "SingleLine"}
        for name, kind in (("newsletterOptIn", "Boolean"), ("newsletterOptInAt", "DateTime"), ("smsOptIn", "Boolean"),
                           ("doNotMail", "Boolean"))
    ],
}  # fmt: skip


def custom(fields: dict) -> dict:
    return {"custom": {"type": {"typeId": "type", "id": "customer-consent"}, "fields": fields}}


def custom_object(object_id: str, key: str, value: object, modified: str) -> dict:
    return {"id": object_id, "version": 1, "container": "consents", "key": key, "value": value,
            "createdAt": modified, "lastModifiedAt": modified}  # fmt: skip


def test_consent_from_custom_fields_and_custom_objects_reaches_the_contacts_frame(
    emulator, sandbox, run_contacts, mapping_file, tmp_path
):
    day = at("2024-05-02", 8)
    emulator.seed(type=[CONSENT_TYPE])
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
            custom_object("co-2", "guest-2", {"email": "Guest@Example.com", "newsletterOptIn": False},
                          "2024-05-02T12:00:00.000Z"),
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
    explained = contacts[["consent_state", "consent_source", "consent_value", "consent_at"]].to_dict("index")
    assert explained["c-in"] == {"consent_state": "opted_in", "consent_source": "custom_fields", "consent_value": True,
                                 "consent_at": "2024-05-01T10:00:00+00:00"}  # fmt: skip
    assert explained["c-out"]["consent_state"] == "opted_out"
    assert explained["c-object"]["consent_source"] == "custom_object"
    assert explained["c-none"]["consent_state"] == "no_consent" and pd.isna(explained["c-none"]["consent_value"])
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey("ct_consents")]
    assert evaluation.passed and evaluation.metadata["invalid"].value == 2

    sent = {contact["id"]: contact for contact in sandbox.records("contact")}
    assert sent["c-in"]["marketing_optin"] == "EXPLICITLY_OPTEDIN"
    assert sent["c-in"]["timestamp_subscribed"] == "2024-05-01T10:00:00+00:00"
    assert sent["c-out"]["marketing_optin"] == "EXPLICITLY_OPTEDOUT"
    assert sent["c-out"]["timestamp_unsubscribed"] == "2024-05-02T08:00:00+00:00"
    assert sent["c-object"]["marketing_optin"] == "EXPLICITLY_OPTEDIN"
    for quiet in ("c-none", "c-bad"):
        assert "marketing_optin" not in sent[quiet]  # no consent data, no opt-in value
    assert all("channels" not in contact for contact in sent.values())  # no phone, no SMS consent
    [materialization] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("ometria_contacts")]
    counts = {k: v.value for k, v in materialization.materialization.metadata.items() if k.startswith("consent_")}
    assert counts == {"consent_opted_in": 2, "consent_opted_out": 1, "consent_suppressed": 0, "consent_no_consent": 2}


def test_a_consent_field_that_does_not_exist_fails_naming_the_config_key(emulator, sandbox, run_contacts, mapping_file):
    emulator.seed(type=[CONSENT_TYPE], customer=[customer_document("c-1", "a@example.com", at("2024-05-02"))])
    mapping = mapping_file({"consent": {"email_optin_field": "newsleterOptIn"}})
    result = run_contacts("2024-05-02", mapping=mapping)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "mapping config consent.email_optin_field: 'newsleterOptIn' is not a field of any customer Custom Type" in message
    assert sandbox.requests() == []


def test_a_suppression_list_opts_out_whatever_the_consent_and_lifting_it_opts_nobody_in(
    emulator, sandbox, run_contacts, mapping_file
):
    config = {"consent": {"email_optin_field": "newsletterOptIn", "email_optin_at_field": "newsletterOptInAt",
                          "suppression": {"custom_object_container": "suppressed-emails"}}}  # fmt: skip
    mapping = mapping_file(config)
    listed = {"id": "sup-1", "version": 1, "container": "suppressed-emails", "key": "sup-1",
              "value": {"email": "listed@example.com"},
              "createdAt": "2024-05-01T00:00:00.000Z", "lastModifiedAt": "2024-05-01T00:00:00.000Z"}  # fmt: skip
    emulator.seed(
        type=[CONSENT_TYPE], **{"key-value-document": [listed]},
        customer=[customer_document("c-listed", " Listed@Example.com", at("2024-05-02"), **custom({"newsletterOptIn": True})),
                  customer_document("c-free", "free@example.com", at("2024-05-02"), **custom({"newsletterOptIn": True}))],
    )  # fmt: skip
    assert run_contacts("2024-05-02", mapping=mapping).success
    sent = {c["id"]: c for c in sandbox.records("contact")}
    assert sent["c-listed"]["marketing_optin"] == "EXPLICITLY_OPTEDOUT"
    assert sent["c-free"]["marketing_optin"] == "EXPLICITLY_OPTEDIN"

    # The suppression is lifted; the customer's old opt-in is still in commercetools. It does not opt
    # them back in: it was given before the suppression.
    emulator.seed(**{"key-value-document": [{**listed, "version": 2, "value": {"email": "listed@example.com", "suppressed": False}}]},
                  customer=[customer_document("c-listed", "listed@example.com", at("2024-05-02", 15), version=2,
                                              **custom({"newsletterOptIn": True}))])  # fmt: skip
    before = len(sandbox.requests())
    lifted = run_contacts("2024-05-02", mapping=mapping)
    assert lifted.success
    assert {c["id"]: c for c in sandbox.records("contact")}["c-listed"]["marketing_optin"] == "EXPLICITLY_OPTEDOUT"
    assert len(sandbox.requests()) == before + 1  # the contact went (its email changed), without an opt-in

    # A fresh opt-in, given after the suppression was lifted, counts.
    emulator.seed(customer=[customer_document("c-listed", "listed@example.com", at("2024-05-02", 18), version=3,
                                              **custom({"newsletterOptIn": True, "newsletterOptInAt": "2099-01-01T00:00:00.000Z"}))])  # fmt: skip
    assert run_contacts("2024-05-02", mapping=mapping).success
    assert {c["id"]: c for c in sandbox.records("contact")}["c-listed"]["marketing_optin"] == "EXPLICITLY_OPTEDIN"


def test_a_consent_changed_without_its_customer_still_reaches_the_contact(emulator, sandbox, run_contacts, mapping_file):
    mapping = mapping_file({"consent": {"email_optin_field": "newsletterOptIn", "custom_object_container": "consents"}})
    # The customer last changed in April; on 2 May only their consent object changed: an opt-out.
    emulator.seed(
        type=[CONSENT_TYPE], customer=[customer_document("c-april", "april@example.com", at("2024-04-10"))],
        **{"key-value-document": [custom_object("co-9", "c-april", {"newsletterOptIn": False}, "2024-05-02T10:00:00.000Z")]},
    )  # fmt: skip
    assert run_contacts("2024-05-02", mapping=mapping).success
    [contact] = sandbox.records("contact")
    assert (contact["id"], contact["marketing_optin"]) == ("c-april", "EXPLICITLY_OPTEDOUT")


def test_a_suppression_added_without_its_customer_changing_reaches_the_contact(emulator, sandbox, run_contacts, mapping_file):
    mapping = mapping_file({"consent": {"email_optin_field": "newsletterOptIn",
                                        "suppression": {"custom_object_container": "suppressed-emails"}}})  # fmt: skip
    emulator.seed(
        type=[CONSENT_TYPE],
        customer=[customer_document("c-old", "old@example.com", at("2024-03-01"), **custom({"newsletterOptIn": True}))],
        **{"key-value-document": [{"id": "sup-2", "version": 1, "container": "suppressed-emails", "key": "sup-2",
                                   "value": {"email": "old@example.com"}, "createdAt": "2024-05-02T09:00:00.000Z",
                                   "lastModifiedAt": "2024-05-02T09:00:00.000Z"}]},
    )  # fmt: skip
    assert run_contacts("2024-05-02", mapping=mapping).success
    [contact] = sandbox.records("contact")
    assert (contact["id"], contact["marketing_optin"]) == ("c-old", "EXPLICITLY_OPTEDOUT")
