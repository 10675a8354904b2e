"""Money is exact: what is sent equals centAmount / 10^fractionDigits, written with the currency's digits."""

from decimal import Decimal

import pytest
import simplejson
from hypothesis import given
from hypothesis import strategies as st

from ct_ometria.canonical import canonical_json
from ct_ometria.mapping.common import InvalidField
from ct_ometria.mapping.money import amount, check_currency, currency_digits

CURRENCIES = ["EUR", "GBP", "USD", "JPY", "KWD", "BHD", "CLP", "SEK"]


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
def test_any_fraction_digits_are_read_exactly_or_refused(cents, digits, currency):
    """A document's fractionDigits may differ from the currency's: the value is exact, never rounded."""
    exact = Decimal(cents).scaleb(-digits)
    money = {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": digits}
    try:
        value = amount(money, "price")
    except InvalidField as error:
        assert "has more digits than" in str(error)
        assert exact != exact.quantize(Decimal(1).scaleb(-currency_digits(currency)))
    else:
        assert value == exact


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
