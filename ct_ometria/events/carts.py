"""Cart activity from cart snapshots: commercetools emits no message for a line added to a cart, so
the poller compares each modified cart with the last state it saw.

- ``add_to_cart``: a line is new, or its quantity grew; the event carries the units added, the line's
  quantity now, product, variant, SKU, unit price, currency and store.
- ``checkout_started``: the cart gained a shipping address or a payment, or was frozen; once per cart.

A cart without an email or a customer is anonymous: its events are held until the cart names one.
Event ids derive from the cart, its version and the line, so a cart read twice never emits twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ct_ometria.commercetools.client import CommercetoolsClient, parse_ct_datetime
from ct_ometria.ledger.events import EventStore, InboxEvent
from ct_ometria.mapping.common import InvalidField, ometria_id
from ct_ometria.mapping.money import amount
from ct_ometria.mapping.products import line_product_id, variant_id

ADD_TO_CART = "add_to_cart"
CHECKOUT_STARTED = "checkout_started"
SOURCE = "cart"


@dataclass
class CartChange:
    cart_id: str
    version: int
    lines: dict[str, dict[str, Any]]
    checkout_started: bool
    events: list[InboxEvent] = field(default_factory=list)
    identity: dict[str, str | None] = field(default_factory=dict)


def _moment(cart: dict[str, Any]) -> dt.datetime:
    return parse_ct_datetime(str(cart["lastModifiedAt"]))


def cart_lines(cart: dict[str, Any], strategy: str) -> dict[str, dict[str, Any]]:
    """Per line item id: what an add-to-cart event says about it (amounts as exact decimal text)."""
    lines = {}
    for index, line in enumerate(cart.get("lineItems") or []):
        variant = line.get("variant") or {}
        sku = variant.get("sku")
        where = f"lineItems.{index}"
        source = {"key": f"{where}.productKey", "sku": f"{where}.variant.sku"}.get(strategy, f"{where}.productId")
        product = ometria_id(line_product_id(line.get("productId", ""), line.get("productKey"), sku, strategy), source)
        price = (line.get("price") or {}).get("discounted", {}).get("value") or (line.get("price") or {}).get("value")
        unit = amount(price, f"{where}.price") if price else None
        chosen = variant_id(product, variant.get("id", 1), sku) if strategy != "sku" else product  # as order lines
        lines[str(line["id"])] = {
            "product_id": product,
            "variant_id": ometria_id(chosen, f"{where}.variant.sku"),
            "sku": sku,
            "quantity": int(line.get("quantity") or 0),
            "unit_price": str(unit) if unit is not None else None,
        }
    return lines


def checkout_reached(cart: dict[str, Any]) -> bool:
    payments = ((cart.get("paymentInfo") or {}).get("payments")) or []
    return bool(cart.get("shippingAddress")) or bool(payments) or cart.get("cartState") == "Frozen"


def diff_cart(cart: dict[str, Any], snapshot: dict[str, Any] | None, strategy: str) -> CartChange:
    """What happened to ``cart`` since ``snapshot`` (None: the poller has not seen it before)."""
    cart_id = str(cart["id"])
    version = int(cart["version"])
    try:
        lines = cart_lines(cart, strategy)
    except InvalidField as error:
        raise InvalidField(f"cart {cart_id} {error.field}", error.reason) from None
    before = (snapshot or {}).get("lines", {})
    started_before = bool((snapshot or {}).get("checkout_started"))
    started = started_before or checkout_reached(cart)
    email = (cart.get("customerEmail") or "").strip() or None
    identity = {"email": email, "customer": cart.get("customerId")}
    held = not (identity["email"] or identity["customer"])
    moment = _moment(cart)
    currency = (cart.get("totalPrice") or {}).get("currencyCode")
    context = {"store": (cart.get("store") or {}).get("key"), "locale": cart.get("locale"), "currency": currency,
               "email": email, "customer": identity["customer"], "occurred_at": moment.isoformat()}  # fmt: skip
    change = CartChange(cart_id, version, lines, started, identity=identity)

    def event(event_id: str, event_type: str, properties: dict[str, Any]) -> InboxEvent:
        draft = {"event_id": event_id, "event_type": event_type, **context,
                 "properties": {"cart_id": cart_id, **{k: v for k, v in properties.items() if v is not None}}}  # fmt: skip
        return InboxEvent(event_id, SOURCE, event_type, moment, draft, cart_id=cart_id, held=held)

    for line_id, line in lines.items():
        added = line["quantity"] - int((before.get(line_id) or {}).get("quantity", 0))
        if added > 0:
            price = Decimal(line["unit_price"]) if line["unit_price"] is not None else None
            change.events.append(
                event(f"cart-{cart_id}-{version}-{line_id}", ADD_TO_CART,
                      {"product_id": line["product_id"], "variant_id": line["variant_id"], "sku": line["sku"],
                       "quantity": added, "line_quantity": line["quantity"], "unit_price": price})
            )  # fmt: skip
    if started and not started_before:
        total = amount(cart.get("totalPrice"), "totalPrice") if cart.get("totalPrice") else None
        products = sorted({line["product_id"] for line in lines.values()})
        change.events.append(
            event(f"cart-{cart_id}-checkout", CHECKOUT_STARTED,
                  {"product_ids": products, "items": sum(line["quantity"] for line in lines.values()),
                   "total": total})
        )  # fmt: skip
    return change


@dataclass
class CartPoll:
    carts: int = 0
    unchanged: int = 0
    events: Counter = field(default_factory=Counter)
    held: int = 0
    released: int = 0
    invalid: list[str] = field(default_factory=list)
    newest: dt.datetime | None = None


def poll_carts(client: CommercetoolsClient, store: EventStore, since: dt.datetime, strategy: str) -> CartPoll:
    """Diff every cart modified since ``since`` against its snapshot; store the events and the new
    snapshot of each cart in one transaction."""
    poll = CartPoll()
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    for page in client.modified_between("carts", since, until):
        snapshots = store.snapshots([str(cart["id"]) for cart in page])
        for cart in page:
            poll.carts += 1
            moment = _moment(cart)
            poll.newest = moment if poll.newest is None or moment > poll.newest else poll.newest
            snapshot = snapshots.get(str(cart["id"]))
            if snapshot is not None and snapshot["version"] >= int(cart["version"]):
                poll.unchanged += 1
                continue
            try:
                change = diff_cart(cart, snapshot, strategy)
            except InvalidField as error:
                poll.invalid.append(str(error))
                continue
            store.save_cart(change.cart_id, change.version, change.lines, change.checkout_started, change.events)
            for item in change.events:
                poll.events[item.event_type] += 1
                poll.held += int(item.held)
            if change.identity.get("email") or change.identity.get("customer"):
                poll.released += store.release_held(change.cart_id, change.identity)
    return poll
