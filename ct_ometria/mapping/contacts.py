"""commercetools customers to Ometria contacts."""

from __future__ import annotations

import hashlib
from typing import Any

from ct_ometria.commercetools.models import Customer
from ct_ometria.config import MappingConfig, StoreConfig
from ct_ometria.mapping.common import (
    InvalidField,
    compact,
    iso8601,
    looks_personal,
    normalise_email,
    normalise_phone,
    ometria_id,
)
from ct_ometria.mapping.consent import ConsentDecision, ConsentInput, decide


def contact_id(customer: Customer) -> str:
    """The contact listing id: the commercetools customer id, a system UUID that carries no PII.

    It never changes when the customer edits their email, so an email change re-sends the same
    contact with the new address, as Ometria expects."""
    if looks_personal(customer.id):
        raise InvalidField("id", "looks like personal data and cannot be an Ometria id")
    return customer.id


def customer_id(customer: Customer, config: MappingConfig) -> str:
    """The Ometria ``customer_id`` by the configured strategy; the commercetools id when the
    chosen field is empty."""
    strategy = config.identity.customer_id_strategy
    value = {
        "id": customer.id,
        "customerNumber": customer.customer_number,
        "externalId": customer.external_id,
        "key": customer.key,
    }[strategy]
    value = (value or "").strip() or customer.id
    ometria_id(value, f"customer_id ({strategy})")
    if looks_personal(value):
        raise InvalidField(f"customer_id ({strategy})", "looks like personal data and cannot be an Ometria id")
    return value


def guest_contact_id(email: str) -> str:
    """A guest's contact id: a digest of the normalised email, stable across orders and carrying no
    readable personal data (Ometria ids must not contain PII)."""
    return "guest-" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]


def guest_contact_record(email: str, consent: dict[str, Any], config: MappingConfig) -> tuple[dict[str, Any], ConsentDecision]:
    """A contact for a guest who gave or refused consent at checkout: email and consent only."""
    address = normalise_email(email)
    decision = decide(
        ConsentInput(email_optin=consent.get("email_optin"), email_optin_at=consent.get("email_optin_at"),
                     source="checkout"),
        phone=None, force_optin=False, fallback_at=consent.get("email_optin_at") or "",
    )  # fmt: skip
    record = {"@type": "contact", "@collection": config.identity.contact_collection, "@merge": True,
              "id": guest_contact_id(address), "email": address, **decision.fields}  # fmt: skip
    return compact(record), decision


def suppression(customer: Customer, config: MappingConfig) -> str | None:
    """The source that suppresses ``customer``, if any: a custom field or a customer group."""
    rules = config.consent.suppression
    fields = customer.custom.fields if customer.custom else {}
    if rules.custom_field and fields.get(rules.custom_field) is True:
        return f"custom field {rules.custom_field}"
    group = customer.customer_group
    if group and rules.customer_groups:
        names = {group.id, group.key, (group.obj or {}).get("key")} - {None}
        if names & set(rules.customer_groups):
            return f"customer group {sorted(names & set(rules.customer_groups))[0]}"
    return None


def consent_input(customer: Customer, config: MappingConfig, found: dict[str, Any]) -> ConsentInput:
    """Consent from the configured custom fields (``found``: what ``ct_consents`` read, by customer)."""
    suppressed_by = suppression(customer, config) or found.get("suppression_source")
    return ConsentInput(
        email_optin=found.get("email_optin"), email_optin_at=found.get("email_optin_at"),
        sms_optin=found.get("sms_optin"), sms_optin_at=found.get("sms_optin_at"), source=found.get("source"),
        suppressed=suppressed_by is not None, suppression_source=suppressed_by,
    )  # fmt: skip


def _birth_date(customer: Customer) -> str | None:
    """The date of birth, never one after the customer's last modification: a birthday in the future
    is a broken document, not a date to send."""
    born = customer.date_of_birth
    if born is not None and born > customer.last_modified_at.date():
        raise InvalidField("dateOfBirth", "is later than the customer's last modification")
    return born.isoformat() if born else None


def contact_record(
    customer: Customer, config: MappingConfig, consent: dict[str, Any] | None = None
) -> tuple[dict[str, Any], ConsentDecision, str | None]:
    """The contact record for ``customer``, its consent decision, and why a phone number was dropped;
    raises ``InvalidField`` naming the field that cannot map."""
    address = customer.default_address()
    store_keys = customer.store_keys or ([config.default_store] if config.default_store else [])
    store_ids = [config.ometria_store_id(key) for key in store_keys]
    phone, phone_dropped = normalise_phone(
        (address.mobile or address.phone) if address else None, address.country if address else None
    )
    force = any((config.store(key) or StoreConfig(key=key)).force_optin for key in store_keys)
    decision = decide(
        consent_input(customer, config, consent or {}), phone=phone, force_optin=force,
        fallback_at=iso8601(customer.last_modified_at),
    )  # fmt: skip
    record = {
        "@type": "contact",
        "@collection": config.identity.contact_collection,
        # Merge into the stored listing: fields we do not send keep the values Ometria holds.
        "@merge": True,
        "id": contact_id(customer),
        "email": normalise_email(customer.email),
        "customer_id": customer_id(customer, config),
        "prefix": customer.title or customer.salutation,
        "firstname": customer.first_name,
        "middlename": customer.middle_name,
        "lastname": customer.last_name,
        "date_of_birth": _birth_date(customer),
        "country_id": address.country if address else None,
        "phone_number": phone,
        "store_ids": store_ids,
        "timestamp_acquired": iso8601(customer.created_at),
        "properties": compact({"locale": customer.locale}),
        **decision.fields,
    }
    # Fields Ometria owns (edited by marketers or its preference centre) are never sent.
    for field, owner in config.ownership.items():
        if owner == "ometria" and field not in ("id", "@type", "@collection", "@merge"):
            record.pop(field, None)
    return compact(record), decision, phone_dropped
