"""Money, exactly: ``centAmount / 10^fractionDigits`` in ``Decimal``, never through float.

commercetools writes every amount as ``centAmount`` in the currency's ISO 4217 minor units and says
how many in ``fractionDigits``; the amount is written with exactly those digits (EUR ``49.93``, JPY
``1500``, KWD ``1.500``). High-precision money keeps sub-cent precision in ``preciseAmount``; its
``centAmount`` is already rounded by commercetools to the currency's ISO minor units, which is what
a shopper pays and what Ometria can hold.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import list_currencies

from ct_ometria.commercetools.models import Money
from ct_ometria.mapping.common import InvalidField


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


# ISO 4217 minor units where they are not 2. Written here because babel follows CLDR, whose digits
# differ from ISO's for some currencies (HUF, IDR, COP, IQD, ...), and commercetools follows ISO.
ISO_MINOR_UNITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}  # fmt: skip


def check_currency(code: object, field: str = "currency") -> str:
    if not isinstance(code, str) or len(code) != 3 or not code.isupper() or code not in _currencies():
        raise InvalidField(field, "not an ISO 4217 currency code")
    return code


def currency_digits(code: str) -> int:
    """The currency's ISO 4217 minor units."""
    return ISO_MINOR_UNITS.get(code, 2)


def amount(money: dict[str, Any] | None, field: str, *, allow_negative: bool = False) -> Decimal | None:
    """The amount of a commercetools Money (``centPrecision`` or ``highPrecision``), or None when absent."""
    if money is None:
        return None
    if not isinstance(money, dict):
        raise InvalidField(field, "not a money object")
    return exact(money.get("currencyCode"), money.get("centAmount"), money.get("fractionDigits", ABSENT),
                 money.get("type"), field, allow_negative=allow_negative)  # fmt: skip


# A Money dict without fractionDigits has the currency's own digits; one whose fractionDigits is
# null is broken. (A parsed Money's None is a left-out one: pydantic reads both the same.)
ABSENT = object()


def exact(currency: object, cents: object, digits: object, kind: object, field: str, *,
          allow_negative: bool = False) -> Decimal:  # fmt: skip
    """The amount of a Money given by its parts, so a parsed model's fields need no dict made of
    them. ``digits`` is ``ABSENT`` when not given."""
    currency = check_currency(currency, f"{field}.currencyCode")
    if digits is ABSENT or kind == "highPrecision":
        # High-precision money keeps sub-cent precision in preciseAmount (at fractionDigits);
        # its centAmount is that amount already rounded by commercetools to the currency's digits,
        # which is what a shopper is charged and what Ometria can hold.
        digits = currency_digits(currency)
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise InvalidField(f"{field}.centAmount", "not an integer")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 20:
        raise InvalidField(f"{field}.fractionDigits", "not an integer between 0 and 20")
    if cents < 0 and not allow_negative:
        raise InvalidField(field, "negative amount")
    # Exact: the Decimal carries exactly `digits` decimals, so it is written with them.
    return Decimal(cents).scaleb(-digits)


def of_money(money: Money, field: str) -> Decimal:
    """The amount of a parsed Money (pydantic has checked its types; the currency and digits are checked here)."""
    digits = ABSENT if money.fraction_digits is None else money.fraction_digits
    return exact(money.currency_code, money.cent_amount, digits, money.type, field)


def cents_of(money: dict[str, Any]) -> int:
    return int(money.get("centAmount", 0))
