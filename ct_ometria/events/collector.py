"""The storefront collector: ``POST /events`` behind a shared secret, into the durable inbox.

A storefront (or its edge function) posts one event, a list, or ``{"events": [...]}``:

    {"event_id": "pv-7f3a…", "type": "product_viewed", "occurred_at": "2026-11-27T10:15:00+00:00",
     "store": "uk", "locale": "en-GB", "currency": "GBP",
     "email": "ann@example.com" | "customer_id": "<commercetools customer id>",
     "properties": {"product_id": "shirt", "list": "search results"}}

Valid events are stored even when a neighbour is not; each invalid one is reported by its index,
field and reason (never its value). ``event_id`` makes a retried post harmless. The inbox sensor
sends what is stored, so events posted while Dagster is down wait, and are not lost.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import uuid
from typing import Any

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ct_ometria.config import MappingConfig
from ct_ometria.events.custom import check_properties
from ct_ometria.ledger.events import EventStore, InboxEvent
from ct_ometria.mapping.common import InvalidField, looks_personal
from ct_ometria.mapping.money import check_currency

SECRET_HEADER = "X-Collector-Secret"
SOURCE = "storefront"
MAX_BODY_BYTES = 1_000_000
MAX_EVENTS = 500
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class StorefrontEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    event_id: str | None = Field(default=None, min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=32)
    occurred_at: dt.datetime | None = None
    store: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=35)
    currency: str | None = None
    email: EmailStr | None = None
    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_id", "customer_id")
    @classmethod
    def _no_personal_data(cls, value: str | None) -> str | None:
        if value is not None and looks_personal(value):
            raise ValueError("must not be an email address or a phone number")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware_and_past(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return value
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset")
        if value > dt.datetime.now(dt.timezone.utc) + FUTURE_TOLERANCE:
            raise ValueError("is in the future")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            Locale.parse(value, sep="-" if "-" in value else "_")
        except (ValueError, UnknownLocaleError):
            raise ValueError("not a known locale") from None
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return check_currency(value)
        except InvalidField:
            raise ValueError("not an ISO 4217 currency code") from None

    @field_validator("properties")
    @classmethod
    def _properties(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            return check_properties(value)
        except InvalidField as error:
            raise ValueError(str(error)) from None


def parse_events(payload: Any, config: MappingConfig) -> tuple[list[InboxEvent], list[dict[str, Any]]]:
    """(valid events, errors by index and field) of a posted body."""
    items = payload.get("events") if isinstance(payload, dict) and "events" in payload else payload
    items = items if isinstance(items, list) else [items]
    if len(items) > MAX_EVENTS:
        return [], [{"index": None, "field": "events", "message": f"at most {MAX_EVENTS} events per request"}]
    allowed = set(config.events.storefront_types)
    stores = {store.key for store in config.stores}
    valid, errors = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "field": "event", "message": "must be a JSON object"})
            continue
        try:
            event = StorefrontEvent.model_validate(item)
        except ValidationError as error:
            errors += [{"index": index, "field": ".".join(str(p) for p in e["loc"]) or "event", "message": e["msg"]}
                       for e in error.errors()]  # fmt: skip
            continue
        problems = []
        if event.type not in allowed:
            problems.append(("type", f"not one of the configured storefront types {sorted(allowed)}"))
        if stores and event.store is not None and event.store not in stores:
            problems.append(("store", f"not a configured store key {sorted(stores)}"))
        if event.email is None and event.customer_id is None:
            problems.append(("email", "an event needs an email or a customer_id"))
        if problems:
            errors += [{"index": index, "field": field, "message": message} for field, message in problems]
            continue
        # In UTC: SQLite keeps no offset, and the lag is measured against UTC.
        moment = (event.occurred_at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        event_id = f"sf-{event.event_id or uuid.uuid4()}"
        draft = {"event_id": event_id, "event_type": event.type, "occurred_at": moment.isoformat(),
                 "email": str(event.email).lower() if event.email else None, "customer": event.customer_id,
                 "store": event.store, "locale": event.locale, "currency": event.currency,
                 "properties": event.properties}  # fmt: skip
        valid.append(InboxEvent(event_id, SOURCE, event.type, moment, draft))
    return valid, errors


def create_collector(secret: str, store: EventStore, config: MappingConfig) -> Starlette:
    expected = secret.encode()

    async def events(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": f"missing or wrong {SECRET_HEADER} header"}, status_code=401)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not valid JSON"}, status_code=400)
        valid, errors = parse_events(payload, config)
        stored = store.add_events(valid)
        answer = {"accepted": len(valid), "stored": stored, "duplicates": len(valid) - stored, "errors": errors}
        return JSONResponse(answer, status_code=422 if errors else 202)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "inbox": store.counts([SOURCE])})

    return Starlette(routes=[Route("/events", events, methods=["POST"]), Route("/health", health, methods=["GET"])])
