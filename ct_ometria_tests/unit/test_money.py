"""Money is exact: what is sent equals centAmount / 10^fractionDigits, written with the currency's digits."""

from decimal import Decimal

import pytest
import simplejson
from hypothesis import given
from hypothesis import strategies as st

from ct_ometria.canonical import canonical_json
from ct_ometria.mapping.common import InvalidField
from ct_ometria.mapping.money import amount, check_currency, currency_digits

CURRENCIES = ["EUR", "GBP", "USD", "JPY", "KWD", "BHD", "CLP", "SEK", "HUF", "IDR", "COP", "IQD", "CLF"]


@given(cents=st.integers(min_value=0, max_value=10**15), currency=st.sampled_from(CURRENCIES))
def test_sent_amount_equals_cents_over_ten_to_the_currency_digits(cents, currency):
    digits = currency_digits(currency)
    money = {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": digits}
    value = amount(money, "price")
    assert value == Decimal(cents) / (Decimal(10) ** digits)
    text = canonical_json({"price": value})
    assert simplejson.loads(text, use_decimal=True)["price"] == Decimal(cents) / (Decimal(10) ** digits)
    written = text.removeprefix('{"price":').removesuffix("}")
    assert len(written.partition(".")[2]) == digits


@given(cents=st.integers(min_value=0, max_value=10**12), digits=st.integers(min_value=0, max_value=8),
       currency=st.sampled_from(CURRENCIES))  # fmt: skip
def test_any_fraction_digits_are_read_exactly_and_written_with_them(cents, digits, currency):
    money = {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": digits}
    value = amount(money, "price")
    assert value == Decimal(cents).scaleb(-digits)
    written = canonical_json(value)
    assert simplejson.loads(written, use_decimal=True) == Decimal(cents) / (Decimal(10) ** digits)
    assert len(written.partition(".")[2]) == digits


@pytest.mark.parametrize(("currency", "digits"), [("HUF", 2), ("IDR", 2), ("COP", 2), ("IQD", 3), ("JPY", 0), ("CLF", 4)])
def test_currency_digits_follow_iso_4217(currency, digits):
    assert currency_digits(currency) == digits
    money = {"type": "highPrecision", "currencyCode": currency, "centAmount": 12345, "preciseAmount": 1234512,
             "fractionDigits": digits + 2}  # fmt: skip
    assert amount(money, "price") == Decimal(12345).scaleb(-digits)


def test_high_precision_money_uses_the_amount_commercetools_rounded():
    money = {"type": "highPrecision", "currencyCode": "EUR", "centAmount": 1235, "preciseAmount": 123456, "fractionDigits": 4}
    assert amount(money, "price") == Decimal("12.35")
    assert str(amount(money, "price")) == "12.35"


@pytest.mark.parametrize("code", ["XYZ", "eur", "EU", "", None, 978])
def test_unknown_currencies_are_refused(code):
    with pytest.raises(InvalidField, match="currency: not an ISO 4217 currency code"):
        check_currency(code)


def test_negative_amounts_are_refused_naming_the_field():
    with pytest.raises(InvalidField, match="lineItems.0.totalPrice: negative amount"):
        amount({"currencyCode": "EUR", "centAmount": -1, "fractionDigits": 2}, "lineItems.0.totalPrice")


def test_jpy_has_no_decimals_and_kwd_three():
    assert canonical_json(amount({"currencyCode": "JPY", "centAmount": 1500, "fractionDigits": 0}, "p")) == "1500"
    assert canonical_json(amount({"currencyCode": "KWD", "centAmount": 1500, "fractionDigits": 3}, "p")) == "1.500"
