"""commercetools customers to Ometria contacts."""

from __future__ import annotations

from typing import Any

from ct_ometria.commercetools.models import Customer
from ct_ometria.config import MappingConfig
from ct_ometria.mapping.common import InvalidField, compact, iso8601, looks_personal, normalise_email


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
    if looks_personal(value):
        raise InvalidField(f"customer_id ({strategy})", "looks like personal data and cannot be an Ometria id")
    return value


def contact_record(customer: Customer, config: MappingConfig) -> dict[str, Any]:
    """The contact record for ``customer``; raises ``InvalidField`` naming the field that cannot map."""
    address = customer.default_address()
    store_ids = [config.ometria_store_id(key) for key in customer.store_keys]
    if not store_ids and config.default_store:
        store_ids = [config.ometria_store_id(config.default_store)]
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
        "date_of_birth": customer.date_of_birth.isoformat() if customer.date_of_birth else None,
        "country_id": address.country if address else None,
        "store_ids": store_ids,
        "timestamp_acquired": iso8601(customer.created_at),
        "properties": compact({"locale": customer.locale}),
    }
    return compact(record)
