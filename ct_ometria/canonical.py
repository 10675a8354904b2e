"""The one serialisation of a record: canonical JSON, used for sending, sizing and hashing.

Keys sorted, no whitespace, UTF-8 kept as is, ``Decimal`` written as a JSON number with exactly
its digits (money is never a float). The same record always gives the same bytes and hash.
The standard library cannot write a Decimal as a number without going through float, so this
uses simplejson, whose ``RawJSON`` writes the Decimal's exact digits.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import simplejson


def _number(value: Any) -> simplejson.RawJSON:
    """A Decimal written as a JSON number in fixed point: ``0.0000005``, never ``5E-7`` (str() would).
    The encoder asks only for what it cannot write itself, so no record is walked twice."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return simplejson.RawJSON(format(value, "f"))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for every record: building one per call costs a tenth of the serialisation.
_ENCODER = simplejson.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, use_decimal=False, default=_number
)


def canonical_json(record: Any) -> str:
    return _ENCODER.encode(record)


def canonical_bytes(record: Any) -> bytes:
    return canonical_json(record).encode("utf-8")


def content_hash(record: Any) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
