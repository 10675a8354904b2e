"""Small, pure field checks shared by the per-record rules (no web framework here)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

Errors = list[tuple[str, str]]

MISSING = "required field missing"
NOT_VALID = "not a valid value"

_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def path(*parts: object) -> str:
    """Ometria-style error path: ``path("lineitems", 0, "product_id")`` -> ``root > lineitems > 0 > product_id``."""
    return " > ".join(["root", *(str(p) for p in parts)])


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_iso_datetime(value: Any, *, require_offset: bool = False) -> bool:
    """ISO 8601 date-time; accepts ``Z``, ``+00``, ``+0000`` and ``+00:00`` offsets."""
    if not isinstance(value, str):
        return False
    match = _DATETIME_RE.match(value)
    if match is None or (require_offset and match.group("tz") is None):
        return False
    text = value
    tz = match.group("tz")
    if tz and tz != "Z" and len(tz) == 5 and ":" not in tz:  # +0000 -> +00:00
        text = value[: -len(tz)] + tz[:3] + ":" + tz[3:]
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_email(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


class FieldChecker:
    """Collects ``(error_path, error_message)`` pairs for one object (record or nested object)."""

    def __init__(self, obj: dict[str, Any], prefix: tuple[object, ...] = ()) -> None:
        self.obj = obj
        self.prefix = prefix
        self.errors: Errors = []

    def p(self, *parts: object) -> str:
        return path(*self.prefix, *parts)

    def add(self, field: object, message: str) -> None:
        """``field`` is one path part or a tuple of parts below this checker's prefix."""
        parts = field if isinstance(field, tuple) else (field,)
        self.errors.append((self.p(*parts), message))

    def present(self, field: str) -> bool:
        return field in self.obj

    def require(self, field: str, required: bool = True) -> bool:
        """Record a missing required field; return True when the field is present (null counts as missing)."""
        if self.obj.get(field) is None:
            if required:
                self.add(field, MISSING)
            return False
        return True

    def check(self, field: str, predicate: Any, message: str, *, required: bool = False) -> None:
        if not self.require(field, required):
            return
        if not predicate(self.obj[field]):
            self.add(field, message)

    def string(self, field: str, *, required: bool = False, non_empty: bool = False) -> None:
        def ok(v: Any) -> bool:
            return isinstance(v, str) and (not non_empty or v.strip() != "")

        self.check(field, ok, "must be a non-empty string" if non_empty else "must be a string", required=required)

    def strings(self, *fields: str) -> None:
        for field in fields:
            self.string(field)

    def number(self, field: str, *, required: bool = False) -> None:
        self.check(field, is_number, "must be a number", required=required)

    def numbers(self, *fields: str) -> None:
        for field in fields:
            self.number(field)

    def boolean(self, field: str, *, required: bool = False) -> None:
        self.check(field, lambda v: isinstance(v, bool), "must be a boolean", required=required)

    def booleans(self, *fields: str) -> None:
        for field in fields:
            self.boolean(field)

    def obj_field(self, field: str) -> bool:
        """True when ``field`` is present and an object; records an error when present but not an object."""
        if self.obj.get(field) is None:
            return False
        if not isinstance(self.obj[field], dict):
            self.add(field, "must be an object")
            return False
        return True

    def list_field(self, field: str) -> bool:
        if self.obj.get(field) is None:
            return False
        if not isinstance(self.obj[field], list):
            self.add(field, "must be an array")
            return False
        return True

    def datetime(self, field: str, *, required: bool = False, require_offset: bool = False) -> None:
        message = "must be an ISO 8601 date-time" + (" with a UTC offset" if require_offset else "")
        self.check(
            field, lambda v: is_iso_datetime(v, require_offset=require_offset), message, required=required
        )

    def datetimes(self, *fields: str) -> None:
        for field in fields:
            self.datetime(field)

    def date_or_datetime(self, field: str) -> None:
        self.check(field, lambda v: is_iso_date(v) or is_iso_datetime(v), "must be an ISO 8601 date")

    def string_list(self, field: str) -> None:
        if self.list_field(field):
            for i, item in enumerate(self.obj[field]):
                if not isinstance(item, str):
                    self.add((field, i), "must be a string")

    def sub(self, *parts: object) -> FieldChecker:
        """Checker for a nested object whose errors are merged back into this one."""
        node: Any = self.obj
        for part in parts:
            node = node[part]
        child = FieldChecker(node, self.prefix + parts)
        child.errors = self.errors
        return child
