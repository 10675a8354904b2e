"""The one serialisation of a record: canonical JSON, used for sending, sizing and hashing.

Keys sorted, no whitespace, UTF-8 kept as is, ``Decimal`` written as a JSON number with exactly
its digits (money is never a float). The same record always gives the same bytes and hash.
The standard library cannot write a Decimal as a number without going through float, so this
uses simplejson's ``use_decimal``.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import simplejson


class _Fixed(Decimal):
    """A Decimal that prints in fixed point: ``0.0000005``, never ``5E-7`` (str() would)."""

    def __str__(self) -> str:
        return format(self, "f")


def _fixed(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _Fixed(value)
    if isinstance(value, dict):
        return {key: _fixed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fixed(item) for item in value]
    return value


# One encoder for every record: building one per call costs a tenth of the serialisation.
_ENCODER = simplejson.JSONEncoder(
    use_decimal=True, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(record: Any) -> str:
    return _ENCODER.encode(_fixed(record))


def canonical_bytes(record: Any) -> bytes:
    return canonical_json(record).encode("utf-8")


def content_hash(record: Any) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
