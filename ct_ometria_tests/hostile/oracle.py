"""What a parked record's reason must say: ``field: reason`` for every problem, naming the field broken."""

from __future__ import annotations

import re

from ct_ometria_tests.hostile.strategies import Breakage

_PART = re.compile(r"^(?P<field>[^:;]+): (?P<reason>.+)$", re.DOTALL)
# Segments too common to tell one field from another on their own.
GENERIC = {"id", "value", "type", "obj", "record"}
# commercetools fields Ometria knows by another name (same-named ones match without help: firstName, firstname).
RENAMED = {"name": {"title"}, "slug": {"url"}, "postalcode": {"postcode"}, "title": {"prefix"}, "salutation": {"prefix"},
           "images": {"imageurl"}, "country": {"countryid", "countrycode"}, "shippingmethodname": {"shippingmethod"}}  # fmt: skip


def reason_fields(reason: str) -> list[str]:
    """The field of each ``field: reason`` part; a part without one is an error in itself."""
    fields = []
    for part in reason.split("; "):
        match = _PART.match(part)
        assert match, f"a reason part names no field: {part[:200]!r}"
        fields.append(match["field"].strip())
    return fields


def _segments(field: str) -> list[str]:
    # "customer_id (customerNumber)" names customerNumber; "lineItems.0.price" names lineItems, 0, price.
    return [s for s in re.split(r"[.\s()]+", field) if s]


def _normal(segment: str) -> str:
    return segment.lower().replace("_", "")


def names_field(reason: str, breakage: Breakage) -> bool:
    """Whether ``reason`` names the broken field: a field on its path (``lineItems.0.price`` for
    ``lineItems.0.price.value.centAmount``), one under it (``masterData.current.masterVariant`` deleted), or
    the Ometria field it became (``firstname`` for ``firstName``, ``shipping_address`` for ``shippingAddress``)."""
    path = [str(part) for part in breakage.path]
    named = {_normal(s) for s in path if not s.isdigit() and s not in GENERIC}
    named |= {other for name in list(named) for other in RENAMED.get(name, ())}
    for field in reason_fields(reason):
        segments = _segments(field)
        if segments == path[: len(segments)] or path == segments[: len(path)]:
            return True
        if any(_normal(s) in named for s in segments if not s.isdigit() and s not in GENERIC):
            return True
    return False
