"""Starlette app of the sandbox: the ``/v2`` Data API surface (push, push errors, a few REST reads)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from uuid import uuid4

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .config import SandboxConfig
from .control import control_routes
from .ratelimit import retry_after_header
from .responses import authenticate, problem, settle
from .rules import RECORD_TYPES
from .store import Account, SandboxStore, utc_now

RECORD_TOO_LARGE = "Payload invalid: Record is too large"
MAX_LIST_LIMIT = 250


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def record_size(record: Any) -> int:
    """Serialised size in bytes (compact UTF-8 JSON), the measure used for the 60 KB record limit."""
    return len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _shape_problem(payload: Any, max_records: int) -> str | None:
    if not isinstance(payload, list):
        return "body must be a JSON array of records, even for a single record"
    if not payload:
        return "body must contain at least one record"
    if len(payload) > max_records:
        return f"too many records: {len(payload)} (at most {max_records} per request)"
    for i, record in enumerate(payload):
        if not isinstance(record, dict):
            return f"record {i} is not a JSON object"
        if record.get("@type") not in RECORD_TYPES:
            return f"record {i}: @type must be one of {', '.join(RECORD_TYPES)}"
    types = sorted({r["@type"] for r in payload})
    if len(types) > 1:
        return f"a request must contain one record type only, got {', '.join(types)}"
    return None


def _queue_headers(account: Account) -> dict[str, str]:
    """Sent on every authenticated push response (§8 rule 8)."""
    return {
        "X-QueueSize-Remaining": str(account.queue_remaining),
        "X-QueueSize-Limit": str(account.config.queue_capacity),
    }


async def push(request: Request) -> Response:
    # When the request arrived, before its latency and its body: what the rate limit counts.
    arrived = utc_now()
    auth = authenticate(request)
    if not isinstance(auth, Account):
        return auth
    account, config = auth, auth.config
    request_id = str(uuid4())

    def refuse(
        status: int, detail: str, records: Any = None, *, retry_after: str | None = None, **ext: Any
    ) -> Response:
        account.log_request(request_id, status, records if isinstance(records, list) else None, received_at=arrived)
        headers = _queue_headers(account)
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return problem(status, detail, headers=headers, request_id=request_id, **ext)

    fault = account.take_fault()
    if fault is not None:
        retry = fault.get("retry_after")
        return refuse(fault["status"], "injected fault", retry_after=None if retry is None else str(retry))
    # The rate is counted on arrival, as Ometria counts it; the latency is the answer's.
    wait = account.push_limiter.try_acquire()
    if account.latency_seconds:
        await asyncio.sleep(account.latency_seconds)
    if wait is not None:
        return refuse(429, "push rate limit exceeded", retry_after=retry_after_header(wait))
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return refuse(415, "Content-Type must be application/json")
    try:
        payload = json.loads(await request.body(), parse_constant=_reject_constant)
    except ValueError as exc:  # includes UnicodeDecodeError and json.JSONDecodeError
        return refuse(400, f"body is not valid JSON: {exc}")
    shape_error = _shape_problem(payload, config.max_records)
    if shape_error is not None:
        return refuse(400, shape_error, payload)
    for i, record in enumerate(payload):
        size = record_size(record)
        if size > config.max_record_bytes:
            detail = f"{RECORD_TOO_LARGE} (record index {i}: {size} bytes, limit {config.max_record_bytes})"
            return refuse(413, detail, payload, index=i)
    with account.lock:
        if len(account.queue) + len(payload) > config.queue_capacity:
            return refuse(429, "push queue is full; retry later", payload, retry_after="1")
        rejected = account.enqueue(payload, request_id)
    account.log_request(request_id, config.success_status, payload, rejected, received_at=arrived)
    body = {"status": "OK", "request_id": request_id, "accepted": len(payload) - rejected, "rejected": rejected}
    headers = _queue_headers(account)
    background = BackgroundTask(account.process) if config.process_mode == "immediate" else None
    return JSONResponse(body, status_code=config.success_status, headers=headers, background=background)


def _rest_account(request: Request) -> Account | Response:
    """Authenticate, apply the REST rate limit (4 req/s by default), then settle the queue."""
    auth = authenticate(request)
    if not isinstance(auth, Account):
        return auth
    wait = auth.rest_limiter.try_acquire()
    if wait is not None:
        with auth.lock:
            auth.throttled += 1
        return problem(429, "API rate limit exceeded", headers={"Retry-After": retry_after_header(wait)})
    settle(auth)
    return auth


async def push_errors(request: Request) -> Response:
    account = _rest_account(request)
    if not isinstance(account, Account):
        return account
    return JSONResponse(account.recent_errors())


def _read_one(record_type: str):
    async def read(request: Request) -> Response:
        account = _rest_account(request)
        if not isinstance(account, Account):
            return account
        collection = request.query_params.get("collection") if record_type == "contact" else None
        record = account.get(record_type, request.path_params["id"], collection)
        if record is None:
            return problem(404, f"{record_type} not found")
        return JSONResponse(record)

    return read


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= low and (high is None or value <= high) else None


async def list_products(request: Request) -> Response:
    account = _rest_account(request)
    if not isinstance(account, Account):
        return account
    limit = _int_param(request, "limit", 10, 1, MAX_LIST_LIMIT)
    offset = _int_param(request, "offset", 0, 0, None)
    if limit is None or offset is None:
        return problem(400, f"limit must be 1..{MAX_LIST_LIMIT} and offset >= 0")
    return JSONResponse(account.list_records("product")[offset : offset + limit])


HASHED_EMAIL = re.compile(r"^[0-9a-f]{64}$")


def _deletion_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if body.get("action") != "anonymise":
        return 'action must be "anonymise"'
    identities = body.get("identities")
    if not isinstance(identities, list) or not identities:
        return "identities must be a non-empty list"
    for i, identity in enumerate(identities):
        if not isinstance(identity, dict) or not isinstance(identity.get("hashed_email"), str):
            return f"identities > {i} > hashed_email is required"
        if not HASHED_EMAIL.match(identity["hashed_email"]):
            return f"identities > {i} > hashed_email must be a lower-case hex SHA-256 digest"
    if body.get("comment") is not None and not isinstance(body["comment"], str):
        return "comment must be a string"
    return None


async def data_deletion_requests(request: Request) -> Response:
    """GDPR anonymisation requests: 6 per minute per account; listed back by GET."""
    auth = authenticate(request)
    if not isinstance(auth, Account):
        return auth
    if request.method == "GET":
        with auth.lock:
            return JSONResponse(list(auth.deletion_requests))
    wait = auth.deletion_limiter.try_acquire()
    if wait is not None:
        with auth.lock:
            auth.throttled += 1
        return problem(429, "data-deletion request rate limit exceeded", headers={"Retry-After": retry_after_header(wait)})
    try:
        body = json.loads(await request.body())
    except ValueError:
        return problem(400, "body is not valid JSON")
    detail = _deletion_problem(body)
    if detail is not None:
        return problem(400, detail)
    created = {"id": str(uuid4()), "action": "anonymise", "comment": body.get("comment"),
               "identities": body["identities"], "source": {"origin": "api"},
               "timestamp_created": utc_now(), "timestamp_completed": None}  # fmt: skip
    with auth.lock:
        auth.deletion_requests.append(created)
    return JSONResponse(created, status_code=201)


def create_app(config: SandboxConfig) -> Starlette:
    """Build the sandbox ASGI app; state lives in memory for the lifetime of the app object."""
    routes = [
        Route("/v2/push", push, methods=["POST"]),
        Route("/v2/push/_errors", push_errors, methods=["GET"]),
        Route("/v2/data-deletion-requests", data_deletion_requests, methods=["GET", "POST"]),
        Route("/v2/contacts/{id:path}", _read_one("contact"), methods=["GET"]),
        Route("/v2/orders/{id:path}", _read_one("order"), methods=["GET"]),
        Route("/v2/products", list_products, methods=["GET"]),
        Route("/v2/products/{id:path}", _read_one("product"), methods=["GET"]),
        *control_routes(),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox_store = SandboxStore(config)
    app.state.sandbox_config = config
    return app
