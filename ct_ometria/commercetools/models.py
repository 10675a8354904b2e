"""Typed views of the commercetools documents we read. Unknown fields are ignored, not lost:
the raw document travels beside the model in the extracted frame."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Reference(_Model):
    type_id: str | None = Field(default=None, alias="typeId")
    id: str | None = None
    key: str | None = None


class CustomFields(_Model):
    type: Reference | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class Address(_Model):
    id: str | None = None
    country: str | None = None
    city: str | None = None
    postal_code: str | None = Field(default=None, alias="postalCode")
    phone: str | None = None
    mobile: str | None = None


class Customer(_Model):
    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    email: str
    key: str | None = None
    customer_number: str | None = Field(default=None, alias="customerNumber")
    external_id: str | None = Field(default=None, alias="externalId")
    first_name: str | None = Field(default=None, alias="firstName")
    middle_name: str | None = Field(default=None, alias="middleName")
    last_name: str | None = Field(default=None, alias="lastName")
    title: str | None = None
    salutation: str | None = None
    date_of_birth: dt.date | None = Field(default=None, alias="dateOfBirth")
    locale: str | None = None
    addresses: list[Address] = Field(default_factory=list)
    default_shipping_address_id: str | None = Field(default=None, alias="defaultShippingAddressId")
    default_billing_address_id: str | None = Field(default=None, alias="defaultBillingAddressId")
    customer_group: Reference | None = Field(default=None, alias="customerGroup")
    stores: list[Reference] = Field(default_factory=list)
    custom: CustomFields | None = None
    created_at: dt.datetime = Field(alias="createdAt")
    last_modified_at: dt.datetime = Field(alias="lastModifiedAt")

    @property
    def store_keys(self) -> list[str]:
        return [store.key for store in self.stores if store.key]

    def default_address(self) -> Address | None:
        by_id = {address.id: address for address in self.addresses}
        for wanted in (self.default_billing_address_id, self.default_shipping_address_id):
            if wanted and wanted in by_id:
                return by_id[wanted]
        return self.addresses[0] if self.addresses else None
