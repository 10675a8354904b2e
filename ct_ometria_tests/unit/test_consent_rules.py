"""Consent and identity rules as properties: never opted in without an explicit true, every explicit
false opts out, suppression always wins, ids never carry personal data, normalisation is idempotent."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from ct_ometria.commercetools.models import Customer
from ct_ometria.config import parse_mapping_config
from ct_ometria.local.sample import customer_document
from ct_ometria.mapping.common import looks_personal, normalise_email, normalise_phone
from ct_ometria.mapping.consent import OPTED_IN, OPTED_OUT, ConsentInput, decide
from ct_ometria.mapping.contacts import contact_record

AT = "2024-05-02T09:00:00+00:00"
consents = st.builds(
    ConsentInput,
    email_optin=st.sampled_from([True, False, None]),
    email_optin_at=st.sampled_from([None, "2024-01-01T00:00:00+00:00"]),
    sms_optin=st.sampled_from([True, False, None]),
    sms_optin_at=st.none(),
    source=st.sampled_from([None, "custom_fields", "custom_object"]),
    suppressed=st.booleans(),
    suppression_source=st.just("custom field doNotMail"),
)
phones = st.sampled_from([None, "+31612345678"])


@given(consent=consents, phone=phones, force=st.booleans())
def test_never_opted_in_without_an_explicit_true(consent, phone, force):
    fields = decide(consent, phone=phone, force_optin=force, fallback_at=AT).fields
    if fields.get("marketing_optin") == OPTED_IN:
        assert consent.email_optin is True and not consent.suppressed
        assert "timestamp_subscribed" in fields
    if fields.get("channels", {}).get("sms", {}).get("allow_marketing") is True:
        assert consent.sms_optin is True and not consent.suppressed and phone
    if fields.get("@force_optin"):
        assert force and fields["marketing_optin"] == OPTED_IN


@given(consent=consents, phone=phones, force=st.booleans())
def test_every_explicit_false_and_every_suppression_opts_out(consent, phone, force):
    decision = decide(consent, phone=phone, force_optin=force, fallback_at=AT)
    if consent.email_optin is False or consent.suppressed:
        assert decision.fields["marketing_optin"] == OPTED_OUT
        assert "timestamp_unsubscribed" in decision.fields and "@force_optin" not in decision.fields
    if consent.suppressed and phone:
        assert decision.fields["channels"]["sms"]["allow_marketing"] is False
    if consent.email_optin is None and not consent.suppressed:
        assert "marketing_optin" not in decision.fields and decision.state == "no_consent"


@given(consent=consents)
def test_no_phone_no_sms_consent(consent):
    assert "channels" not in decide(consent, phone=None, force_optin=False, fallback_at=AT).fields


names = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=12)


@given(first=names, last=names, local=st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z0-9]{1,5})?", fullmatch=True),
       phone=st.sampled_from(["0612345678", "+31 6 12345678", "020 123 4567"]),
       customer_id=st.uuids())  # fmt: skip
def test_contact_ids_carry_no_personal_data(first, last, local, phone, customer_id):
    email = f"{local}@example.com"
    document = customer_document(str(customer_id), email, dt.datetime(2024, 5, 2, tzinfo=dt.timezone.utc),
                                 firstName=first, lastName=last, country="NL")  # fmt: skip
    document["addresses"][0]["mobile"] = phone
    record, _, _ = contact_record(Customer.model_validate(document), parse_mapping_config({}))
    for value in (record["id"], record["customer_id"]):
        assert not looks_personal(value)
        assert email not in value and record.get("phone_number", "#") not in value
        assert first not in value or first in str(customer_id)


@given(st.emails())
def test_email_normalisation_is_idempotent(email):
    try:
        once = normalise_email(email)
    except ValueError:
        return
    assert normalise_email(once) == once == once.strip().lower()


@given(st.sampled_from(["0612345678", "+31612345678", "06-12 34 56 78", "+44 7911 123456", "07911 123456", "12"]),
       st.sampled_from(["NL", "GB", None]))  # fmt: skip
def test_phone_normalisation_is_idempotent(raw, region):
    once, _ = normalise_phone(raw, region)
    if once is not None:
        assert once.startswith("+") and normalise_phone(once, None) == (once, None)


def test_suppression_by_custom_field_or_group_wins_over_consent():
    config = parse_mapping_config({"consent": {"suppression": {"custom_field": "doNotMail", "customer_groups": ["blocked"]}}})
    base = customer_document("c-1", "a@example.com", dt.datetime(2024, 5, 2, tzinfo=dt.timezone.utc))
    by_field = Customer.model_validate({**base, "custom": {"type": {"typeId": "type", "id": "t"}, "fields": {"doNotMail": True}}})
    record, decision, _ = contact_record(by_field, config, {"email_optin": True})
    assert record["marketing_optin"] == OPTED_OUT and decision.state == "suppressed"
    assert decision.source == "custom field doNotMail"
    by_group = Customer.model_validate({**base, "customerGroup": {"typeId": "customer-group", "id": "g-9", "obj": {"key": "blocked"}}})
    assert contact_record(by_group, config, {"email_optin": True})[0]["marketing_optin"] == OPTED_OUT
    lifted = Customer.model_validate(base)
    assert "marketing_optin" not in contact_record(lifted, config, {})[0]  # lifting never opts back in


def test_force_optin_only_for_stores_that_enable_it():
    config = parse_mapping_config({"stores": [{"key": "nl", "force_optin": True}, {"key": "uk"}]})
    at = dt.datetime(2024, 5, 2, tzinfo=dt.timezone.utc)
    nl = Customer.model_validate(customer_document("c-1", "a@example.com", at, stores=["nl"]))
    uk = Customer.model_validate(customer_document("c-2", "b@example.com", at, stores=["uk"]))
    assert contact_record(nl, config, {"email_optin": True})[0]["@force_optin"] is True
    assert "@force_optin" not in contact_record(uk, config, {"email_optin": True})[0]
    assert "@force_optin" not in contact_record(nl, config, {"email_optin": False})[0]


def test_consent_rows_merge_newest_first_and_an_unordered_conflict_is_a_refusal():
    import pandas as pd

    from ct_ometria.commercetools.consent import CONSENT_COLUMNS, consent_by_customer

    def row(row_id, value, at, source="custom_object"):
        return {"id": row_id, "customer": "c-1", "email": None, "source": source, "email_optin": value,
                "email_optin_at": at, "sms_optin": None, "sms_optin_at": None, "suppressed": None,
                "partition": "2024-05-02", "rejection": None}  # fmt: skip

    ordered = pd.DataFrame([row("b", True, "2024-05-02T12:00:00+02:00"), row("a", False, "2024-05-02T11:00:00+00:00")],
                           columns=CONSENT_COLUMNS)  # fmt: skip
    # 12:00+02:00 is 10:00 UTC, before 11:00 UTC: the refusal is the newer decision.
    assert consent_by_customer(ordered)["c-1"]["email_optin"] is False
    unordered = pd.DataFrame([row("a", False, None, "custom_fields"), row("b", True, "2024-05-02T12:00:00+00:00")],
                             columns=CONSENT_COLUMNS)  # fmt: skip
    assert consent_by_customer(unordered)["c-1"]["email_optin"] is False
