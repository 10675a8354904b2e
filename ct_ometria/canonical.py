"""The one serialisation of a record: canonical JSON, used for sending, sizing and hashing.

Keys sorted, no whitespace, UTF-8 kept as is, ``Decimal`` written as a JSON number with exactly
its digits (money is never a float). The same record always gives the same bytes and hash.

orjson writes it (several times faster than a Python encoder; it is on the hot path of every
record), with each Decimal handed back as an ``orjson.Fragment`` of its exact digits. What orjson
cannot write (an integer beyond 64 bits) goes through simplejson, whose ``RawJSON`` does the same
for Decimals. Both give the same bytes for every contact, order and product record, so hashes stay
stable; they differ only in how a float is spelled (``2.5e-05`` vs ``0.000025``, the same number),
and only storefront event properties carry floats.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import orjson
import simplejson


def _digits(value: Decimal) -> str:
    """A Decimal in fixed point: ``0.0000005``, never ``5E-7`` (str() would)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return format(value, "f")


def _fragment(value: Any) -> orjson.Fragment:
    # orjson asks only for what it cannot write itself, so no record is walked twice.
    if isinstance(value, Decimal):
        return orjson.Fragment(_digits(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _raw(value: Any) -> simplejson.RawJSON:
    if isinstance(value, Decimal):
        return simplejson.RawJSON(_digits(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Datetimes and dataclasses go to _fragment (and are refused), as simplejson refuses them: a record
# holds its timestamps as ISO 8601 text, written once by the mapping.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# One encoder for every record: building one per call costs a tenth of the serialisation.
_FALLBACK = simplejson.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, use_decimal=False, default=_raw
)


def canonical_bytes(record: Any) -> bytes:
    try:
        written = orjson.dumps(record, default=_fragment, option=_OPTIONS)
    except orjson.JSONEncodeError as error:
        if isinstance(error.__cause__, (ValueError, TypeError)):
            raise error.__cause__ from None  # a value no JSON can hold, named by _fragment
        return _FALLBACK.encode(record).encode("utf-8")
    if b"null" in written:
        # orjson writes a float NaN or infinity as null; simplejson refuses it, as a record must.
        return _FALLBACK.encode(record).encode("utf-8")
    return written


def canonical_json(record: Any) -> str:
    return canonical_bytes(record).decode("utf-8")


def content_hash(record: Any) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
