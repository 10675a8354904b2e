"""Money, exactly: ``centAmount / 10^fractionDigits`` in ``Decimal``, never through float.

Amounts are quantised to the currency's own minor units (babel's ISO 4217 data: EUR 2, JPY 0,
KWD 3) so they serialise as JSON numbers with the currency's digits. The document's
``fractionDigits`` is used to read ``centAmount``; the currency's digits only decide how the result
is written, and a value that would need rounding to fit them is refused rather than rounded
(high-precision money is read from its centAmount, which commercetools rounds itself).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from ct_ometria.mapping.common import InvalidField


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: object, field: str = "currency") -> str:
    if not isinstance(code, str) or len(code) != 3 or not code.isupper() or code not in _currencies():
        raise InvalidField(field, "not an ISO 4217 currency code")
    return code


def currency_digits(code: str) -> int:
    return get_currency_precision(code)


def amount(money: dict[str, Any] | None, field: str, *, allow_negative: bool = False) -> Decimal | None:
    """The amount of a commercetools Money (``centPrecision`` or ``highPrecision``), or None when absent."""
    if money is None:
        return None
    if not isinstance(money, dict):
        raise InvalidField(field, "not a money object")
    currency = check_currency(money.get("currencyCode"), f"{field}.currencyCode")
    digits = money.get("fractionDigits", currency_digits(currency))
    if money.get("type") == "highPrecision":
        # High-precision money keeps sub-cent precision in preciseAmount (at fractionDigits);
        # its centAmount is that amount already rounded by commercetools to the currency's digits,
        # which is what a shopper is charged and what Ometria can hold.
        digits = currency_digits(currency)
    cents = money.get("centAmount")
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise InvalidField(f"{field}.centAmount", "not an integer")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 20:
        raise InvalidField(f"{field}.fractionDigits", "not an integer between 0 and 20")
    if cents < 0 and not allow_negative:
        raise InvalidField(field, "negative amount")
    return in_currency(Decimal(cents).scaleb(-digits), currency, field)


def in_currency(value: Decimal, currency: str, field: str) -> Decimal:
    """``value`` written with exactly the currency's digits; refuses a value that would need rounding."""
    quantum = Decimal(1).scaleb(-currency_digits(currency))
    written = value.quantize(quantum)
    if written != value:
        raise InvalidField(field, f"has more digits than {currency} allows")
    return written


def cents_of(money: dict[str, Any]) -> int:
    return int(money.get("centAmount", 0))
