"""Consent rules: who may receive marketing, on which channel, and why.

- Email: an explicit ``true`` from a configured source opts in (``EXPLICITLY_OPTEDIN`` with
  ``timestamp_subscribed``); an explicit ``false`` opts out (``EXPLICITLY_OPTEDOUT`` with
  ``timestamp_unsubscribed``); no consent data sends no opt-in value at all. Never a default opt-in.
- SMS: ``channels.sms.allow_marketing`` with its update time, only for a valid E.164 phone number.
- Suppression (a configured custom field or customer group) opts the contact out of every channel
  whatever its consent says. Lifting it sends nothing by itself: the contact's own consent decides
  again, and without an explicit opt-in nobody is opted back in.
- ``@force_optin`` only on an opt-in from a store whose config enables it.
Every decision carries its source, value and timestamp, so it can be explained per contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPTED_IN = "EXPLICITLY_OPTEDIN"
OPTED_OUT = "EXPLICITLY_OPTEDOUT"


@dataclass(frozen=True)
class ConsentInput:
    email_optin: bool | None = None
    email_optin_at: str | None = None
    sms_optin: bool | None = None
    sms_optin_at: str | None = None
    source: str | None = None
    suppressed: bool = False
    suppression_source: str | None = None


@dataclass(frozen=True)
class ConsentDecision:
    state: str  # opted_in | opted_out | suppressed | no_consent
    source: str | None
    value: bool | None
    at: str | None
    fields: dict[str, Any]


def decide(consent: ConsentInput, *, phone: str | None, force_optin: bool, fallback_at: str) -> ConsentDecision:
    """The Ometria consent fields for one contact, and why."""
    fields: dict[str, Any] = {}
    email_at = consent.email_optin_at or fallback_at
    sms_at = consent.sms_optin_at or fallback_at
    if consent.suppressed:
        fields.update({"marketing_optin": OPTED_OUT, "timestamp_unsubscribed": fallback_at})
        if phone:
            fields["channels"] = {"sms": {"allow_marketing": False, "dt_updated_marketing": fallback_at}}
        return ConsentDecision("suppressed", consent.suppression_source, True, fallback_at, fields)
    if consent.email_optin is True:
        fields.update({"marketing_optin": OPTED_IN, "timestamp_subscribed": email_at})
        if force_optin:
            fields["@force_optin"] = True
        state = "opted_in"
    elif consent.email_optin is False:
        fields.update({"marketing_optin": OPTED_OUT, "timestamp_unsubscribed": email_at})
        state = "opted_out"
    else:
        state = "no_consent"
    if phone and consent.sms_optin is not None:
        fields["channels"] = {"sms": {"allow_marketing": consent.sms_optin, "dt_updated_marketing": sms_at}}
    value = consent.email_optin
    return ConsentDecision(state, consent.source if value is not None else None, value,
                           email_at if value is not None else None, fields)  # fmt: skip


OPT_IN_FIELDS = ("marketing_optin", "timestamp_subscribed", "@force_optin")


def without_revived_opt_in(record: dict[str, Any]) -> dict[str, Any]:
    """The record with an opt-in removed: for a contact whose suppression was lifted after the opt-in
    was given. Nothing is sent for consent then; Ometria keeps the opt-out it holds."""
    kept = {key: value for key, value in record.items() if key not in OPT_IN_FIELDS}
    sms = (kept.get("channels") or {}).get("sms") or {}
    if sms.get("allow_marketing") is True:
        kept.pop("channels", None)
    return kept
