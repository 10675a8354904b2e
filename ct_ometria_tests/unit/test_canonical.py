"""Canonical JSON is the record's identity in the ledger: its bytes must never drift."""

import datetime as dt
import hashlib
import math
from decimal import Decimal

import pytest
import simplejson
from hypothesis import given, settings
from hypothesis import strategies as st

from ct_ometria.canonical import canonical_bytes, canonical_json, content_hash


def reference(record) -> bytes:
    """The serialisation every ledger hash so far was computed from: simplejson, keys sorted,
    compact, UTF-8 kept, Decimals as their fixed-point digits."""
    def number(value):
        if isinstance(value, Decimal):
            return simplejson.RawJSON(format(value, "f"))
        raise TypeError

    return simplejson.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            use_decimal=False, default=number).encode("utf-8")  # fmt: skip


# What contact, order and product records are made of: money is Decimal, attributes are text;
# no float reaches them.
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
)  # fmt: skip


def nested(leaves):
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=5),
                        max_leaves=25)  # fmt: skip


@settings(max_examples=400)
@given(nested(scalars))
def test_bytes_are_those_every_earlier_hash_was_computed_from(record):
    assert canonical_bytes(record) == reference(record)
    assert content_hash(record) == hashlib.sha256(reference(record)).hexdigest()


@settings(max_examples=200)
@given(nested(scalars | st.floats(allow_nan=False, allow_infinity=False)))
def test_floats_keep_their_value(record):
    # A float (a storefront event's numeric property) is written in orjson's shortest form, which
    # may differ from Python's repr (2.5e-05 vs 0.000025) but reads back as the same number.
    assert simplejson.loads(canonical_bytes(record), use_decimal=False) == simplejson.loads(reference(record))


def test_unicode_and_control_characters_are_written_alike():
    record = {"é": "line\nbreak\t\u2028\u0000\u001f\"\\/", "Z": [Decimal("-0.0000005"), 2**64, 1.5]}
    assert canonical_bytes(record) == reference(record)
    assert canonical_json(record) == reference(record).decode("utf-8")


@pytest.mark.parametrize("value", [float("nan"), math.inf, Decimal("NaN"), Decimal("-Infinity"), object(),
                                   dt.datetime(2024, 5, 2, tzinfo=dt.timezone.utc), dt.date(2024, 5, 2)])
def test_what_no_json_number_can_hold_is_refused_not_written_as_null(value):
    with pytest.raises((ValueError, TypeError)):
        canonical_json({"price": value, "lines": [None]})
