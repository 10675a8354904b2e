"""commercetools orders to Ometria orders, with money exact to the currency's digits.

Amounts (all in the order's currency, as commercetools charged them):
- ``grand_total``: ``taxedPrice.totalGross``, else ``totalPrice``;
- line ``unit_price``: the unit price before cart discounts (a product discount already applied);
  line ``subtotal`` = unit price x quantity; line ``total`` = the line's ``totalPrice`` (after cart
  discounts); line ``discount`` = subtotal - total;
- order ``subtotal`` and ``discount``: the sums over product lines and custom lines (gift wrap, fees:
  they count in the totals but have no product, so Ometria gets no line for them), plus the
  discount on the total price for ``discount``;
- ``shipping``: the shipping price (gross when taxed); ``tax``: ``taxedPrice.totalTax``.

Status: ``cancelled`` (``is_valid: false``) when the order state is Cancelled; ``refunded``
(``is_valid: false``) when every unit of every line was refunded, or successful payment refunds
reach the grand total, because a fully refunded order
earned nothing and must not count as revenue (its lines still carry what was refunded); else
``complete`` when the order is Complete, ``shipped`` when shipped or delivered, ``pending``.
Refunds come from return items whose payment state is ``Refunded``: they set ``quantity_refunded``
on their line and ``refunded``, the line's paid total (gross when taxed) pro rata. Successful
``Refund`` transactions of the order's payments add up to ``properties.refunded_amount``; units in
return infos (refunded or not yet) to ``properties.returned_units``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ct_ometria.commercetools.models import LineItem, Order, OrderAddress, TaxedPrice
from ct_ometria.config import MappingConfig
from ct_ometria.mapping.common import InvalidField, compact, iso8601, looks_personal, normalise_email, ometria_id
from ct_ometria.mapping.money import amount, check_currency, of_money
from ct_ometria.mapping.products import line_product_id, variant_id
from ct_ometria.mapping.stores import StoreContext

ORIGIN_CHANNELS = {"Customer": "web", "Merchant": "merchant", "Quote": "quote", "RecurringOrder": "subscription"}


def order_id(order: Order, config: MappingConfig) -> str:
    """Ometria's order id by the configured strategy; the commercetools id when the number is unset."""
    if config.orders.id_strategy == "orderNumber" and order.order_number:
        return ometria_id(order.order_number, "orderNumber")
    return order.id


def refunded_quantities(order: Order) -> dict[str, int]:
    """Refunded units per line or custom line id, over every return info."""
    refunded: dict[str, int] = defaultdict(int)
    for info in order.return_info:
        for item in info.items:
            line = item.line_item_id or item.custom_line_item_id
            if item.payment_state == "Refunded" and line:
                refunded[line] += item.quantity
    return refunded


def status(order: Order, fully_refunded: bool) -> tuple[str, bool]:
    if order.order_state == "Cancelled":
        return "cancelled", False
    if fully_refunded:
        return "refunded", False
    if order.order_state == "Complete":
        return "complete", True
    if order.shipment_state in ("Shipped", "Delivered"):
        return "shipped", True
    return "pending", True


def _money(value: Any, field: str, currency: str | None = None) -> Decimal | None:
    """The amount of a Money, or None; with ``currency``, refused unless it is in that currency."""
    if value is None:
        return None
    if currency is not None and value.currency_code != currency:
        raise InvalidField(f"{field}.currencyCode", "differs from the order's currency")
    return of_money(value, field)


def _gross(taxed: TaxedPrice | None) -> Any:
    return taxed.total_gross if taxed else None


def _address(address: OrderAddress | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return compact({"city": address.city, "postcode": address.postal_code, "country_code": address.country}) or None


def _line(line: LineItem, index: int, refunded: int, currency: str, strategy: str,
          product_keys: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    field = f"lineItems.{index}"
    if line.quantity <= 0:
        raise InvalidField(f"{field}.quantity", "must be positive")
    if refunded > line.quantity:
        raise InvalidField(f"{field}.returnInfo", "more units refunded than ordered")
    price = line.price.discounted.value if line.price.discounted else line.price.value
    for money, name in ((price, "price"), (line.total_price, "totalPrice")):
        if money.currency_code != currency:
            raise InvalidField(f"{field}.{name}.currencyCode", "differs from the order's currency")
    unit = _money(price, f"{field}.price")
    total = _money(line.total_price, f"{field}.totalPrice")
    subtotal = unit * line.quantity
    # Older orders may lack productKey on their lines; extraction looked the keys up.
    key = line.product_key or product_keys.get(line.product_id)
    parent = ometria_id(line_product_id(line.product_id, key, line.variant.sku, strategy),
                        f"{field}.variant.sku" if strategy == "sku" else f"{field}.productKey")  # fmt: skip
    variant = variant_id(parent, line.variant.id, line.variant.sku) if strategy != "sku" else parent
    record = {
        "product_id": parent,
        "variant_id": ometria_id(variant, f"{field}.variant.sku"),
        "sku": line.variant.sku,
        "quantity": line.quantity,
        "unit_price": unit,
        "subtotal": subtotal,
        "total": total,
        "discount": subtotal - total,
        "tax": _money(line.taxed_price.total_tax, f"{field}.taxedPrice.totalTax") if line.taxed_price else None,
        "is_on_sale": line.price.discounted is not None,
    }
    if refunded:
        paid = _money(line.taxed_price.total_gross, f"{field}.taxedPrice") if line.taxed_price and line.taxed_price.total_gross else total
        record["quantity_refunded"] = refunded
        record["refunded"] = _pro_rata(paid, refunded, line.quantity, total)
    return compact(record)


def _pro_rata(paid: Decimal, part: int, whole: int, like: Decimal) -> Decimal:
    """``paid`` x part / whole, rounded half up to the digits the amounts are written with."""
    return (paid * part / whole).quantize(Decimal(1).scaleb(like.as_tuple().exponent), rounding=ROUND_HALF_UP)


def _custom_totals(order: Order, currency: str) -> tuple[Decimal, Decimal]:
    """Subtotal and discount of the custom lines (fees, gift wrap), which have no product."""
    subtotal = discount = Decimal(0)
    for index, custom in enumerate(order.custom_line_items):
        field = f"customLineItems.{index}"
        if custom.money.currency_code != currency:
            raise InvalidField(f"{field}.money.currencyCode", "differs from the order's currency")
        line_subtotal = _money(custom.money, f"{field}.money") * custom.quantity
        subtotal += line_subtotal
        discount += line_subtotal - _money(custom.total_price, f"{field}.totalPrice")
    return subtotal, discount


def customer_block(order: Order, context: dict[str, Any] | None, config: MappingConfig) -> dict[str, Any]:
    """Registered customers carry their ``customer_id`` (by the configured strategy) and email; guests
    their email only."""
    block: dict[str, Any] = {}
    if order.customer_email:
        block["email"] = normalise_email(order.customer_email, "customerEmail")
    if order.customer_id:
        customer = (context or {}).get("customer") or {}
        strategy = config.identity.customer_id_strategy
        chosen = customer.get(strategy) or order.customer_id
        ometria_id(chosen, f"customer_id ({strategy})" if customer.get(strategy) else "customerId")
        if looks_personal(chosen):
            raise InvalidField(f"customer_id ({strategy})", "looks like personal data and cannot be an Ometria id")
        block["id"] = chosen
    if not block:
        raise InvalidField("customerEmail", "is missing on a guest order")
    return block


# Clock skew allowed between the moment an order says it was completed and its last modification.
SKEW = dt.timedelta(days=1)


def _placed_at(order: Order) -> dt.datetime:
    """When the order was placed: completedAt, else createdAt; never later than its last modification
    (a completion dated in the future is a broken document, not a date to show in Ometria)."""
    if order.completed_at is not None and _utc(order.completed_at) > _utc(order.last_modified_at) + SKEW:
        raise InvalidField("completedAt", "is later than the order's last modification")
    return order.completed_at or order.created_at


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def order_record(order: Order, context: dict[str, Any] | None, store: StoreContext, config: MappingConfig) -> dict[str, Any]:
    currency = check_currency(order.total_price.currency_code, "totalPrice.currencyCode")
    refunded = refunded_quantities(order)
    product_keys = (context or {}).get("product_keys") or {}
    lines = [
        _line(line, i, refunded.get(line.id, 0), currency, config.products.id_strategy, product_keys)
        for i, line in enumerate(order.line_items)
    ]
    every_line = [(line.id, line.quantity) for line in (*order.line_items, *order.custom_line_items)]
    fully_refunded = bool(every_line) and all(refunded.get(i, 0) >= quantity for i, quantity in every_line)
    # The total price is read even when the taxed gross is the grand total: a negative one is a broken order.
    total_price = _money(order.total_price, "totalPrice")
    gross = _gross(order.taxed_price)
    grand_total = _money(gross, "taxedPrice.totalGross", currency) if gross is not None else total_price
    # Money given back by payment refunds (successful Refund transactions), which need no return.
    refunds = [amount(money, f"paymentInfo.refunds.{i}") for i, money in enumerate((context or {}).get("refunds") or [])]
    refunded_amount = sum((value for value in refunds if value is not None), Decimal(0)) if refunds else None
    if refunded_amount is not None and grand_total and refunded_amount >= grand_total:
        fully_refunded = True
    state, valid = status(order, fully_refunded)
    shipping_info = order.shipping_info
    shipping = None
    if shipping_info is not None:
        taxed = _gross(shipping_info.taxed_price)
        shipping = _money(taxed or shipping_info.price, "shippingInfo.taxedPrice.totalGross" if taxed else "shippingInfo.price",
                          currency)  # fmt: skip
    elif order.taxed_shipping_price is not None:
        shipping = _money(order.taxed_shipping_price.total_gross, "taxedShippingPrice.totalGross", currency)
    custom_subtotal, custom_discount = _custom_totals(order, currency)
    subtotal = discount = None
    if every_line:
        subtotal = sum((line["subtotal"] for line in lines), Decimal(0)) + custom_subtotal
        discount = sum((line["discount"] for line in lines), Decimal(0)) + custom_discount
    if order.discount_on_total_price is not None:
        total_discount = _money(order.discount_on_total_price.discounted_amount, "discountOnTotalPrice", currency)
        discount = (discount or Decimal(0)) + total_discount
    tax = _money(order.taxed_price.total_tax, "taxedPrice.totalTax", currency) if order.taxed_price else None
    return compact(
        {
            "@type": "order",
            "id": order_id(order, config),
            "timestamp": iso8601(_placed_at(order)),
            "grand_total": grand_total,
            "subtotal": subtotal,
            "discount": discount,
            "shipping": shipping,
            "tax": tax,
            "currency": currency,
            "status": state,
            "is_valid": valid,
            "customer": customer_block(order, context, config),
            "lineitems": lines,
            "store": store.ometria_id,
            "channel": ORIGIN_CHANNELS.get(order.origin or "Customer", "web"),
            "coupon_code": ",".join((context or {}).get("discount_codes", [])) or None,
            "shipping_method": shipping_info.shipping_method_name if shipping_info else None,
            "shipping_address": _address(order.shipping_address),
            "billing_address": _address(order.billing_address),
            "properties": compact({"locale": order.locale, "commercetools_id": order.id, "order_number": order.order_number,
                                   "refunded_amount": refunded_amount,
                                   "returned_units": sum(i.quantity for info in order.return_info for i in info.items) or None}),
        }
    )
