"""Small rules every Ometria record follows."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class InvalidField(ValueError):
    """A field that cannot be mapped; the message never contains the field's value."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def normalise_email(raw: str | None, field: str = "email") -> str:
    """Trimmed and lower-cased, and syntactically valid, or ``InvalidField``."""
    if raw is None or not raw.strip():
        raise InvalidField(field, "is missing")
    email = raw.strip().lower()
    if not is_valid_email(email):
        raise InvalidField(field, "not a valid email address")
    return email


def normalise_phone(raw: str | None, region: str | None) -> tuple[str | None, str | None]:
    """(E.164 number, None), or (None, reason) when the number is missing or not a valid one."""
    if raw is None or not raw.strip():
        return None, None
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None, "phone: not a phone number"
    if not phonenumbers.is_valid_number(number):
        return None, "phone: not a valid number for its country"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def iso8601(moment: dt.datetime) -> str:
    """ISO 8601 with an explicit offset, in UTC: what Ometria's examples use."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


# A phone number in international form (+44 7700 900123). Plain digit strings are not refused:
# numeric customer numbers and order numbers are common and carry no personal data.
_PHONE_LIKE = re.compile(r"^\+\d[\d\s().-]{6,}$")


def looks_personal(value: str) -> bool:
    """An identifier that is an email address or a phone number; Ometria ids must carry no PII."""
    return "@" in value or bool(_PHONE_LIKE.match(value.strip()))


PERSONAL_ID_MASK = "(an id that looks like personal data)"


def shown_id(value: object) -> object:
    """``value`` as metadata, logs and listings may show it: an id that looks like personal data (an
    order number that is an email) is masked; a record is set aside for that very reason, and its
    reason must not repeat what it protects."""
    return PERSONAL_ID_MASK if isinstance(value, str) and looks_personal(value) else value


# The ledger keeps record ids in 255 characters; commercetools keys are at most 256.
MAX_ID_CHARS = 255
# Control, format (bidi marks, zero-width joiners), surrogate, private-use and unassigned code points,
# and line or paragraph separators: invisible or ambiguous in an id that people read and match.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def ometria_id(value: str, field: str) -> str:
    """``value`` as an Ometria record id, or ``InvalidField`` naming the source ``field``: not blank,
    at most 255 characters, every character printable, without surrounding spaces."""
    if not value or not value.strip():
        raise InvalidField(field, "is blank and cannot be an Ometria id")
    if len(value) > MAX_ID_CHARS:
        raise InvalidField(field, f"is longer than {MAX_ID_CHARS} characters and cannot be an Ometria id")
    # str.isprintable() is false for every category refused here (and for spaces other than " "), so a
    # printable id needs no walk over its characters; only the others are looked at one by one.
    if value != value.strip() or (
        not value.isprintable() and any(unicodedata.category(char) in _UNPRINTABLE for char in value)
    ):
        raise InvalidField(field, "holds spaces around it or unprintable characters and cannot be an Ometria id")
    return value


def is_valid_email(value: object) -> bool:
    """Syntactically valid (no DNS lookup), after trimming."""
    if not isinstance(value, str) or not value.strip():
        return False
    return _valid_email(value.strip())


@functools.lru_cache(maxsize=65_536)
def _valid_email(value: str) -> bool:
    # email-validator is the costliest step per record (a third of the mapping CPU), and each email
    # is checked at extraction, at mapping and by the mapped frame's schema: remember the verdicts.
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


_EMPTIABLE = (str, list, dict)


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values: a missing value is never sent as an empty one that could clear Ometria's."""
    # Not `value in (None, "", [], {})`: that compares every Decimal with a list and a dict.
    return {key: value for key, value in record.items()
            if value is not None and not (isinstance(value, _EMPTIABLE) and not value)}
