"""Typed views of the commercetools documents we read. Unknown fields are ignored, not lost:
the raw document travels beside the model in the extracted frame."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


# commercetools writes amounts, quantities and flags as JSON integers and booleans, and moments as
# ISO 8601 text: anything else is a broken document, never a value to coerce ("12" or true read as
# cents, 1.0 as a quantity, 0 as "not published", a number as seconds since 1970).
Integer = Annotated[int, Strict()]
Boolean = Annotated[bool, Strict()]


def _iso_text(value: Any) -> Any:
    if not isinstance(value, (str, dt.date)):
        raise ValueError("must be ISO 8601 text")
    return value


Moment = Annotated[dt.datetime, BeforeValidator(_iso_text)]
Day = Annotated[dt.date, BeforeValidator(_iso_text)]


class Reference(_Model):
    type_id: str | None = Field(default=None, alias="typeId")
    # commercetools ids and keys are at most 256 characters; a longer one is a broken reference.
    id: str | None = Field(default=None, max_length=256)
    key: str | None = Field(default=None, max_length=256)
    obj: dict[str, Any] | None = None  # present when the reference was expanded


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
    date_of_birth: Day | None = Field(default=None, alias="dateOfBirth")
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


LocalizedString = dict[str, str]


class Money(_Model):
    """Converted exactly by ``mapping.money.of_money``."""

    type: str | None = None
    currency_code: str = Field(alias="currencyCode")
    cent_amount: Integer = Field(alias="centAmount")
    fraction_digits: Integer | None = Field(default=None, alias="fractionDigits")
    precise_amount: Integer | None = Field(default=None, alias="preciseAmount")


class TaxedPrice(_Model):
    total_net: Money | None = Field(default=None, alias="totalNet")
    total_gross: Money | None = Field(default=None, alias="totalGross")
    total_tax: Money | None = Field(default=None, alias="totalTax")


class DiscountedPrice(_Model):
    value: Money


class Price(_Model):
    id: str | None = None
    value: Money
    country: str | None = None
    customer_group: Reference | None = Field(default=None, alias="customerGroup")
    channel: Reference | None = None
    valid_from: Moment | None = Field(default=None, alias="validFrom")
    valid_until: Moment | None = Field(default=None, alias="validUntil")
    discounted: DiscountedPrice | None = None


class Image(_Model):
    url: str


class Attribute(_Model):
    name: str
    value: Any = None


class Variant(_Model):
    id: int
    sku: str | None = None
    key: str | None = None
    prices: list[Price] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)


class DiscountedLinePortion(_Model):
    discount: Reference | None = None
    discounted_amount: Money = Field(alias="discountedAmount")


class DiscountedPricePerQuantity(_Model):
    quantity: Integer
    discounted_price: dict[str, Any] = Field(alias="discountedPrice")


class LineItem(_Model):
    id: str
    product_id: str = Field(alias="productId")
    product_key: str | None = Field(default=None, alias="productKey")
    name: LocalizedString = Field(default_factory=dict)
    variant: Variant
    price: Price
    quantity: Integer
    total_price: Money = Field(alias="totalPrice")
    taxed_price: TaxedPrice | None = Field(default=None, alias="taxedPrice")
    discounted_price_per_quantity: list[DiscountedPricePerQuantity] = Field(
        default_factory=list, alias="discountedPricePerQuantity"
    )
    distribution_channel: Reference | None = Field(default=None, alias="distributionChannel")


class CustomLineItem(_Model):
    """A line without a product (gift wrap, a fee): it counts in the totals, Ometria gets no line."""

    id: str
    money: Money
    quantity: Integer
    total_price: Money = Field(alias="totalPrice")
    taxed_price: TaxedPrice | None = Field(default=None, alias="taxedPrice")


class DiscountOnTotalPrice(_Model):
    discounted_amount: Money = Field(alias="discountedAmount")


class OrderAddress(_Model):
    city: str | None = None
    postal_code: str | None = Field(default=None, alias="postalCode")
    country: str | None = None
    state: str | None = None


class ReturnItem(_Model):
    id: str | None = None
    quantity: Integer
    line_item_id: str | None = Field(default=None, alias="lineItemId")
    custom_line_item_id: str | None = Field(default=None, alias="customLineItemId")
    shipment_state: str | None = Field(default=None, alias="shipmentState")
    payment_state: str | None = Field(default=None, alias="paymentState")


class ReturnInfo(_Model):
    items: list[ReturnItem] = Field(default_factory=list)
    return_date: Moment | None = Field(default=None, alias="returnDate")


class DiscountCodeInfo(_Model):
    discount_code: Reference = Field(alias="discountCode")
    state: str | None = None


class PaymentInfo(_Model):
    """Read so a broken one parks its order: extraction follows these payments for refunds."""

    payments: list[Reference] = Field(default_factory=list)


class ShippingInfo(_Model):
    shipping_method_name: str | None = Field(default=None, alias="shippingMethodName")
    price: Money | None = None
    taxed_price: TaxedPrice | None = Field(default=None, alias="taxedPrice")


class Order(_Model):
    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    order_number: str | None = Field(default=None, alias="orderNumber")
    customer_id: str | None = Field(default=None, alias="customerId")
    customer_email: str | None = Field(default=None, alias="customerEmail")
    anonymous_id: str | None = Field(default=None, alias="anonymousId")
    store: Reference | None = None
    line_items: list[LineItem] = Field(default_factory=list, alias="lineItems")
    custom_line_items: list[CustomLineItem] = Field(default_factory=list, alias="customLineItems")
    discount_on_total_price: DiscountOnTotalPrice | None = Field(default=None, alias="discountOnTotalPrice")
    total_price: Money = Field(alias="totalPrice")
    taxed_price: TaxedPrice | None = Field(default=None, alias="taxedPrice")
    taxed_shipping_price: TaxedPrice | None = Field(default=None, alias="taxedShippingPrice")
    shipping_info: ShippingInfo | None = Field(default=None, alias="shippingInfo")
    discount_codes: list[DiscountCodeInfo] = Field(default_factory=list, alias="discountCodes")
    payment_info: PaymentInfo | None = Field(default=None, alias="paymentInfo")
    billing_address: OrderAddress | None = Field(default=None, alias="billingAddress")
    shipping_address: OrderAddress | None = Field(default=None, alias="shippingAddress")
    country: str | None = None
    locale: str | None = None
    order_state: str = Field(alias="orderState")
    shipment_state: str | None = Field(default=None, alias="shipmentState")
    payment_state: str | None = Field(default=None, alias="paymentState")
    return_info: list[ReturnInfo] = Field(default_factory=list, alias="returnInfo")
    origin: str | None = None
    completed_at: Moment | None = Field(default=None, alias="completedAt")
    created_at: dt.datetime = Field(alias="createdAt")
    last_modified_at: dt.datetime = Field(alias="lastModifiedAt")


class ProductData(_Model):
    name: LocalizedString = Field(default_factory=dict)
    slug: LocalizedString = Field(default_factory=dict)
    description: LocalizedString | None = None
    categories: list[Reference] = Field(default_factory=list)
    master_variant: Variant = Field(alias="masterVariant")
    variants: list[Variant] = Field(default_factory=list)

    def all_variants(self) -> list[Variant]:
        return [self.master_variant, *self.variants]


class MasterData(_Model):
    published: Boolean = False
    current: ProductData
    staged: ProductData | None = None


class Product(_Model):
    """``GET /products``: the full product, so unpublished products are seen too (the current
    projection endpoint returns published products only)."""

    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    key: str | None = None
    master_data: MasterData = Field(alias="masterData")
    created_at: dt.datetime = Field(alias="createdAt")
    last_modified_at: dt.datetime = Field(alias="lastModifiedAt")


class Category(_Model):
    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    key: str | None = None
    name: LocalizedString = Field(default_factory=dict)
    slug: LocalizedString = Field(default_factory=dict)
    parent: Reference | None = None
    ancestors: list[Reference] = Field(default_factory=list)
    created_at: dt.datetime = Field(alias="createdAt")
    last_modified_at: dt.datetime = Field(alias="lastModifiedAt")


class Store(_Model):
    id: str
    key: str
    name: LocalizedString | None = None
    languages: list[str] = Field(default_factory=list)
    countries: list[dict[str, Any]] = Field(default_factory=list)
    distribution_channels: list[Reference] = Field(default_factory=list, alias="distributionChannels")


class Project(_Model):
    key: str
    currencies: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
