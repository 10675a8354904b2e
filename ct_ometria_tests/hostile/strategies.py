"""Hypothesis strategies for hostile commercetools documents: valid customers, orders and products
(from the sample store's generators), each broken the ways a real store's data breaks.

A breakage names the path it broke, so a test can ask whether the reason a record was parked with
names that field. The platform's system fields (``id``, ``version``, ``createdAt``,
``lastModifiedAt``) stay valid: commercetools always sets them, and extraction windows on
``lastModifiedAt``.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ct_ometria.commercetools.client import ct_datetime
from ct_ometria.local.sample import COUNTRIES, FIRST_NAMES, LAST_NAMES, customer_document
from ct_ometria_tests.pipeline import commerce_data as data

DAY = data.DAY
SYSTEM_FIELDS = ("id", "version", "createdAt", "lastModifiedAt")
Path = tuple[str | int, ...]

# Valid mobiles per country, so the phone is sent (and can be broken).
MOBILES = {"NL": "+31 6 12345678", "DE": "+49 1512 3456789", "GB": "+44 7700 900123", "BE": "+32 470 12 34 56",
           "FR": "+33 6 12 34 56 78"}  # fmt: skip

ODD_TEXT = [
    "\u200f\u05e9\u05dc\u05d5\u05dd\u200f",  # right-to-left marks around Hebrew
    "\u202eevil\u202c",  # right-to-left override
    "a\u200db\u200cc",  # zero-width joiner and non-joiner
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # an emoji family (joined)
    "Z\u0351\u0302\u0300\u0301\u0308\u0303\u0304\u0306\u0307\u030a\u030b",  # stacked combining marks
    "nul\x00byte",  # NUL (valid in JSON as \u0000)
    "\x07\x08\x1b[31mred\x1b[0m\x7f",  # control characters and an ANSI escape
    "\ufeffbom",  # a byte-order mark
    "\u00a0\u2028\u2029",  # no-break space and line/paragraph separators
    "",  # empty
    "   ",  # blank
    "\U0010ffff\ufffe",  # non-characters
]
HUGE = 100_000
HUGE_INTS = [2**63, -(2**63) - 1, 10**30, 2**64 + 1]
WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, "text", [], {}, [1, "two"], {"unexpected": 1}]
BAD_CURRENCIES = ["XYZ", "eur", "EU", "EURO", "", "€", "123", "E\u0301UR", "XXX" * 10]
BAD_EMAILS = ["shopper.at.example.com", "@example.com", "shopper@", "shop per@example.com", "shopper@@example.com",
              "shopper@example", "<script>@example.com", "a" * 300 + "@example.com", "shopper@exa mple.com",
              "\u200fshopper@example.com", "shopper@example.com\x00", ""]  # fmt: skip
BAD_PHONES = ["12", "+", "not a phone", "+999 123", "0" * 40, "+31 6 1234", "\u0663\u0664\u0665", "++31612345678"]
FUTURE = ["9999-12-31T23:59:59.999Z", "3000-01-01T00:00:00.000Z", "2262-04-12T00:00:00.000Z"]
FUTURE_DATES = ["9999-12-31", "3000-01-01", "2262-04-12"]


@dataclass(frozen=True)
class Breakage:
    kind: str
    path: Path
    # The document can never be valid after this breakage (a test asserts it is parked).
    must_park: bool = False

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path)


class Case:
    """One document of ``entity`` and how it was broken (None: it is valid). Not a dataclass: hypothesis
    would print a 100 KB string field by field; the repr names the case instead."""

    def __init__(self, entity: str, document: dict[str, Any], breakage: Breakage | None = None):
        self.entity, self.document, self.breakage = entity, document, breakage

    @property
    def id(self) -> str:
        return self.document["id"]

    def __repr__(self) -> str:
        return f"Case({self.entity} {self.id}, {self.breakage})"


# --- valid documents ----------------------------------------------------------------------------

_uuids = st.uuids(version=4).map(str)
_seconds = st.integers(min_value=0, max_value=86_399)


def _modified(seconds: int) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{DAY}T00:00:00+00:00") + dt.timedelta(seconds=seconds)


@st.composite
def customers(draw: st.DrawFn) -> dict[str, Any]:
    ident, number = draw(_uuids), draw(st.integers(0, 10**6))
    country = draw(st.sampled_from(COUNTRIES))
    first, last = draw(st.sampled_from(FIRST_NAMES)), draw(st.sampled_from(LAST_NAMES))
    document = customer_document(
        ident, f"shopper{number}.{ident[:8]}@example.com", _modified(draw(_seconds)), version=draw(st.integers(1, 9)),
        first_name=first, last_name=last, customer_number=f"C-{number:06d}", locale=draw(st.sampled_from(["en-GB", "nl-NL"])),
        addresses=[{"id": "addr-1", "country": country, "city": "Utrecht", "postalCode": "3511AB", "mobile": MOBILES[country]}],
        defaultBillingAddressId="addr-1", dateOfBirth="1980-02-29",
        custom={"type": {"typeId": "type", "id": "customer-type"}, "fields": {"newsletter": True}},
    )  # fmt: skip
    return document


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    """An order of one or two lines (the sample tee and mug), EUR in nl-store or GBP in uk-store."""
    ident = draw(_uuids)
    currency, store = draw(st.sampled_from([("EUR", "nl-store"), ("GBP", "uk-store")]))
    lines = []
    for index, (product, quantity) in enumerate(draw(st.lists(st.tuples(st.sampled_from([data.TEE, data.MUG]),
                                                                       st.integers(1, 5)), min_size=1, max_size=2))):  # fmt: skip
        unit = draw(st.integers(100, 5000))
        lines.append(data.line(f"{ident[:8]}-{index}", product, 0, quantity, unit, unit * quantity, currency=currency,
                               tax_cents=unit * quantity // 5))  # fmt: skip
    total = sum(line["totalPrice"]["centAmount"] for line in lines)
    tax = sum(line["taxedPrice"]["totalTax"]["centAmount"] for line in lines)
    guest = draw(st.booleans())
    document = data.order(
        ident, f"ORD-{ident[:13]}", lines, total, currency=currency, store=store, customer=None if guest else "cust-1",
        email=f"buyer.{ident[:8]}@example.com", taxed=(total - tax, tax), shipping_cents=draw(st.integers(0, 999)),
        created=ct_datetime(_modified(0)), modified=ct_datetime(_modified(draw(_seconds))),
    )  # fmt: skip
    document["completedAt"] = document["lastModifiedAt"]
    # References extraction resolves (discount codes, payments), so breaking them reaches that code too.
    document["discountCodes"] = [{"discountCode": {"typeId": "discount-code", "id": "dc-summer"}, "state": "MatchesCart"}]
    document["paymentInfo"] = {"payments": [{"typeId": "payment", "id": f"pay-{ident[:8]}"}]}
    return document


@st.composite
def products(draw: st.DrawFn) -> dict[str, Any]:
    """A product with one or two variants priced in EUR and GBP."""
    ident = draw(_uuids)
    key = f"p-{ident[:13]}"
    variants = []
    for number in range(1, draw(st.integers(1, 2)) + 1):
        sku = f"{key}-{number}".upper()
        prices = [{"id": f"{sku}-eur", "value": data.money(draw(st.integers(100, 9999)), "EUR"), "country": "NL"},
                  {"id": f"{sku}-gbp", "value": data.money(draw(st.integers(100, 9999)), "GBP"),
                   "validFrom": "2024-01-01T00:00:00.000Z", "validUntil": "2030-01-01T00:00:00.000Z"}]  # fmt: skip
        variants.append(data._variant(number, sku, prices, color=draw(st.sampled_from(["red", "blue"]))))
    document = data.product(ident, key, {"en-GB": "Thing", "nl-NL": "Ding"}, {"en-GB": key, "nl-NL": key}, variants,
                            ["cat-shirts"], published=draw(st.booleans()), version=draw(st.integers(1, 9)))  # fmt: skip
    document["lastModifiedAt"] = ct_datetime(_modified(draw(_seconds)))
    # Staged data of its own (the sample shares one dict), so breaking it leaves the current data alone.
    document["masterData"]["staged"] = copy.deepcopy(document["masterData"]["current"])
    return document


VALID = {"customer": customers, "order": orders, "product": products}


# --- breaking them ------------------------------------------------------------------------------


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path in a document, leaves and containers, except the top-level system fields."""
    found: list[Path] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        if not prefix and key in SYSTEM_FIELDS:
            continue
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def _parent(document: dict[str, Any], path: Path) -> Any:
    node: Any = document
    for part in path[:-1]:
        node = node[part]
    return node


def _set(document: dict[str, Any], path: Path, value: Any) -> None:
    _parent(document, path)[path[-1]] = value


def _delete(document: dict[str, Any], path: Path) -> None:
    del _parent(document, path)[path[-1]]


# Where extraction follows a document's references (customers, products, discount codes, payments, categories).
REFERENCES = {"customerId", "lineItems", "discountCodes", "paymentInfo", "masterData"}
REFERENCE_LEAVES = {"customerId", "lineItems", "productId", "productKey", "discountCodes", "discountCode", "paymentInfo",
                    "payments", "masterData", "current", "categories"}  # fmt: skip


def _references(document: dict[str, Any]) -> list[Path]:
    """The references themselves, the lists and objects holding them, their ids, and their elements."""
    return [path for path in paths(document) if path[0] in REFERENCES and len(path) <= 5
            and (path[-1] in REFERENCE_LEAVES or isinstance(path[-1], int) or path[-1] == "id"
                 and path[-2] in REFERENCE_LEAVES | {0})]  # fmt: skip


def _leaves(document: dict[str, Any], name: str) -> list[Path]:
    return [path for path in paths(document) if path[-1] == name]


# What each entity's model requires (deleting it can never leave a valid document).
REQUIRED = {
    "customer": {("email",)},
    "order": {("totalPrice",), ("orderState",), ("totalPrice", "currencyCode"), ("totalPrice", "centAmount")},
    "product": {("masterData",), ("masterData", "current"), ("masterData", "current", "masterVariant"),
                ("masterData", "current", "masterVariant", "id")},
}  # fmt: skip
# The money mapping reads (``*``: any index), so a bad currency or a negative amount there must park
# the document. Money it never reads (a net total, a shipping rate, a price of another store) may be anything.
READ_MONEY = {
    "order": [("totalPrice",), ("taxedPrice", "totalGross"), ("taxedPrice", "totalTax"), ("shippingInfo", "price"),
              ("lineItems", "*", "price", "value"), ("lineItems", "*", "totalPrice"),
              ("lineItems", "*", "taxedPrice", "totalTax")],
    "product": [("masterData", "current", "masterVariant", "prices", "*", "value"),
                ("masterData", "current", "variants", "*", "prices", 0, "value")],
}  # fmt: skip
# Fields whose wrong type no reader may take for another value (``True`` for 1 cent, ``1.0`` for one unit).
EXACT = ("centAmount", "currencyCode", "fractionDigits", "quantity")


def _matches(path: Path, patterns: list[Path]) -> bool:
    return any(len(path) == len(p) and all(q == "*" or q == part for q, part in zip(p, path)) for p in patterns)


def reads_money(entity: str, path: Path) -> bool:
    """Whether ``path`` (a currency or an amount) is in money the mapping reads."""
    return _matches(path[:-1], READ_MONEY.get(entity, []))


def _wrong_type_parks(entity: str, path: Path, value: Any) -> bool:
    """A money or quantity field of the wrong type parks wherever the model reads it (every money but a
    shipping rate's); a required field set to null parks."""
    if path[-1] in EXACT and "shippingRate" not in path:
        return not (path[-1] == "fractionDigits" and value is None) and not isinstance(value, int) or isinstance(value, bool)
    return path in REQUIRED[entity] and value is None


@st.composite
def broken(draw: st.DrawFn, entity: str, document: dict[str, Any], only: tuple[str, ...] = ()) -> Case:
    """``document`` broken once: a field deleted, a wrong type, a 100 KB string, odd unicode, a huge
    integer, a reference extraction follows, or (where the entity has one) a bad currency, email or
    phone, negative money, a future date. ``only`` narrows the kinds."""
    document = copy.deepcopy(document)
    kinds = ["delete", "wrong_type", "huge_string", "odd_unicode", "huge_int", "reference"]
    currencies, cents = _leaves(document, "currencyCode"), _leaves(document, "centAmount")
    emails = [("email",)] if entity == "customer" else [("customerEmail",)] if entity == "order" else []
    phones = [p for p in paths(document) if p[-1] in ("mobile", "phone")]
    dates = [p for p in paths(document) if p[-1] in ("completedAt", "validFrom", "validUntil", "returnDate")]
    birthdays = [p for p in paths(document) if p[-1] == "dateOfBirth"]
    kinds += [kind for kind, where in (("currency", currencies), ("negative", cents), ("email", emails),
                                       ("phone", phones), ("future", dates + birthdays)) if where]  # fmt: skip
    kinds = [kind for kind in kinds if kind in only] or kinds if only else kinds
    kind = draw(st.sampled_from(kinds))
    if kind == "currency":
        path = draw(st.sampled_from(currencies))
        _set(document, path, draw(st.sampled_from(BAD_CURRENCIES)))
        # Only the currencies the mapping reads: a product price in another currency is never selected.
        return Case(entity, document, Breakage(kind, path, must_park=entity == "order" and reads_money(entity, path)))
    if kind == "negative":
        path = draw(st.sampled_from(cents))
        _set(document, path, -draw(st.integers(1, 10**6)))
        return Case(entity, document, Breakage(kind, path, must_park=reads_money(entity, path)))
    if kind == "email":
        path = draw(st.sampled_from(emails))
        _set(document, path, draw(st.sampled_from(BAD_EMAILS)))
        # An empty customerEmail on a registered customer's order is no email at all: the order goes with its id.
        return Case(entity, document, Breakage(kind, path, must_park=entity == "customer" or bool(document[path[0]])))
    if kind == "phone":
        path = draw(st.sampled_from(phones))
        _set(document, path, draw(st.sampled_from(BAD_PHONES)))
        return Case(entity, document, Breakage(kind, path))  # a bad phone is dropped, with its reason, not parked
    if kind == "future":
        path = draw(st.sampled_from(dates + birthdays))
        _set(document, path, draw(st.sampled_from(FUTURE_DATES if path in birthdays else FUTURE)))
        # An order completed, or a customer born, after the document's last modification; future prices are fine.
        return Case(entity, document, Breakage(kind, path, must_park=path[-1] in ("completedAt", "dateOfBirth")))
    if kind == "reference":
        # A reference (or the list holding it) of the wrong type, 100 KB long, or odd: what extraction looks up.
        path = draw(st.sampled_from(_references(document) or paths(document)))
        value = draw(st.sampled_from([*WRONG_TYPES, "x" * HUGE, *ODD_TEXT, *HUGE_INTS]))
        _set(document, path, value)
        return Case(entity, document, Breakage(kind, path, must_park=_wrong_type_parks(entity, path, value)))
    path = draw(st.sampled_from(paths(document)))
    if kind == "delete":
        _delete(document, path)
        return Case(entity, document, Breakage(kind, path, must_park=path in REQUIRED[entity]))
    if kind == "wrong_type":
        current = _parent(document, path)[path[-1]]
        value = draw(st.sampled_from([v for v in WRONG_TYPES if type(v) is not type(current)]))
        _set(document, path, value)
        return Case(entity, document, Breakage(kind, path, must_park=_wrong_type_parks(entity, path, value)))
    if kind == "huge_string":
        filler = draw(st.sampled_from(["x", "\u00e9", "\U0001f600", "\u200f", "a\u0301"]))
        _set(document, path, (filler * HUGE)[:HUGE])
        return Case(entity, document, Breakage(kind, path))
    if kind == "odd_unicode":
        _set(document, path, draw(st.sampled_from(ODD_TEXT)))
        return Case(entity, document, Breakage(kind, path))
    _set(document, path, draw(st.sampled_from(HUGE_INTS)))
    return Case(entity, document, Breakage(kind, path))


def cases(entity: str, broken_share: float = 0.5) -> st.SearchStrategy[Case]:
    """A valid document of ``entity``, or one broken (about ``broken_share`` of the time)."""
    valid = VALID[entity]()
    return st.tuples(valid, st.floats(0, 1)).flatmap(
        lambda pair: broken(entity, pair[0]) if pair[1] < broken_share else st.just(Case(entity, pair[0]))
    )


def batch(min_size: int = 20, max_size: int = 40, max_broken: int = 10) -> st.SearchStrategy[list[Case]]:
    """Customers, orders and products, valid and broken, with unique ids and order numbers."""

    @st.composite
    def build(draw: st.DrawFn) -> list[Case]:
        size = draw(st.integers(min_size, max_size))
        entities = draw(st.lists(st.sampled_from(["customer", "order", "product"]), min_size=size, max_size=size))
        found, broken_per_entity = [], {"customer": 0, "order": 0, "product": 0}
        for entity in entities:
            share = 0.5 if broken_per_entity[entity] < max_broken else 0.0
            case = draw(cases(entity, share))
            broken_per_entity[entity] += case.breakage is not None
            found.append(case)
        return found

    return build()
