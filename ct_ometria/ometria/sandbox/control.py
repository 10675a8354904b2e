"""Test-inspection and control endpoints under ``/__sandbox``.

Outside ``/v2``; the ``X-Ometria-Auth`` header picks the account; no rate limit.
"""

from __future__ import annotations

import json
import random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .responses import authenticate, problem, settle
from .rules import RECORD_TYPES
from .store import Account

FAULT_STATUSES = frozenset({429, 500, 502, 503, 504})


def _account(request: Request, *, settle_queue: bool = True) -> Account | Response:
    auth = authenticate(request)
    if isinstance(auth, Account) and settle_queue:
        settle(auth)
    return auth


async def records(request: Request) -> Response:
    account = _account(request)
    if not isinstance(account, Account):
        return account
    record_type = request.query_params.get("type")
    if record_type is not None and record_type not in RECORD_TYPES:
        return problem(400, f"type must be one of {', '.join(RECORD_TYPES)}")
    return JSONResponse(account.list_records(record_type))


async def record(request: Request) -> Response:
    account = _account(request)
    if not isinstance(account, Account):
        return account
    record_type = request.path_params["type"]
    if record_type not in RECORD_TYPES:
        return problem(404, f"unknown record type {record_type!r}")
    found = account.get(record_type, request.path_params["id"], request.query_params.get("collection"))
    return JSONResponse(found) if found is not None else problem(404, f"{record_type} not found")


async def contact_meta(request: Request) -> Response:
    """Control-field state of a contact listing: ``{"force_optin": bool, "lists": [...]}``."""
    account = _account(request)
    if not isinstance(account, Account):
        return account
    key = ("contact", request.query_params.get("collection") or "default", request.path_params["id"])
    with account.lock:
        meta = account.contact_meta.get(key)
        return JSONResponse(dict(meta)) if meta is not None else problem(404, "contact not found")


async def identity_conflicts(request: Request) -> Response:
    account = _account(request)
    if not isinstance(account, Account):
        return account
    with account.lock:
        return JSONResponse(list(account.identity.conflicts))


async def all_errors(request: Request) -> Response:
    """Every kept validation error, oldest first (``/v2/push/_errors`` shows only the newest 100)."""
    account = _account(request)
    if not isinstance(account, Account):
        return account
    with account.lock:
        return JSONResponse(list(account.errors))


async def requests_log(request: Request) -> Response:
    account = _account(request, settle_queue=False)
    if not isinstance(account, Account):
        return account
    with account.lock:
        return JSONResponse([dict(r) for r in account.requests])


async def stats(request: Request) -> Response:
    account = _account(request)
    return account if not isinstance(account, Account) else JSONResponse(account.stats())


async def process(request: Request) -> Response:
    account = _account(request, settle_queue=False)
    return account if not isinstance(account, Account) else JSONResponse(account.process())


async def reset(request: Request) -> Response:
    account = _account(request, settle_queue=False)
    if not isinstance(account, Account):
        return account
    account.reset()
    return JSONResponse({"status": "reset"})


CHAOS_KEYS = ("reject_rate", "async_error_rate")


def _parse_faults(body: Any) -> tuple[dict[str, Any] | None, float | None, dict[str, Any]] | str:
    allowed = {"status", "times", "retry_after", "latency_seconds", *CHAOS_KEYS, "seed"}
    if not isinstance(body, dict) or not body or not set(body) <= allowed:
        return "body must be an object with status/times/retry_after, latency_seconds and/or reject_rate/async_error_rate/seed"
    fault = None
    if "status" in body:
        status, times, retry = body["status"], body.get("times", 1), body.get("retry_after")
        if status not in FAULT_STATUSES:
            return f"status must be one of {sorted(FAULT_STATUSES)}"
        if not isinstance(times, int) or isinstance(times, bool) or times < 0:
            return "times must be a non-negative integer"
        if retry is not None and (not isinstance(retry, int) or isinstance(retry, bool) or retry < 0):
            return "retry_after must be a non-negative integer"
        fault = {"status": status, "times": times, "retry_after": retry}
    latency = body.get("latency_seconds")
    if latency is not None and (not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0):
        return "latency_seconds must be a number >= 0"
    chaos: dict[str, Any] = {}
    for key in CHAOS_KEYS:
        if key in body:
            rate = body[key]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
                return f"{key} must be a number in [0, 1]"
            chaos[key] = float(rate)
    if "seed" in body:
        if not isinstance(body["seed"], int) or isinstance(body["seed"], bool):
            return "seed must be an integer"
        chaos["seed"] = body["seed"]
    return fault, latency, chaos


async def faults(request: Request) -> Response:
    """``{"status": 429|500|503, "times": N, "retry_after": s}``, ``{"latency_seconds": x}`` and/or
    ``{"reject_rate": r, "async_error_rate": a, "seed": n}``: that share of valid records is rejected on
    arrival (counted in ``rejected``) or fails in processing (an error at ``/v2/push/_errors``), and is not stored."""
    account = _account(request, settle_queue=False)
    if not isinstance(account, Account):
        return account
    try:
        body = json.loads(await request.body())
    except ValueError:
        return problem(400, "body is not valid JSON")
    parsed = _parse_faults(body)
    if isinstance(parsed, str):
        return problem(400, parsed)
    fault, latency, chaos = parsed
    with account.lock:
        if "status" in body:
            account.fault = fault if fault and fault["times"] > 0 else None
        if latency is not None:
            account.latency_seconds = float(latency)
        if "seed" in chaos:
            account.chaos_random = random.Random(chaos.pop("seed"))
        account.chaos.update(chaos)
        return JSONResponse({"fault": account.fault, "latency_seconds": account.latency_seconds, **account.chaos})


def control_routes() -> list[Route]:
    return [
        Route("/__sandbox/records", records, methods=["GET"]),
        Route("/__sandbox/records/{type}/{id:path}", record, methods=["GET"]),
        Route("/__sandbox/contacts/{id:path}/meta", contact_meta, methods=["GET"]),
        Route("/__sandbox/identity_conflicts", identity_conflicts, methods=["GET"]),
        Route("/__sandbox/errors", all_errors, methods=["GET"]),
        Route("/__sandbox/requests", requests_log, methods=["GET"]),
        Route("/__sandbox/stats", stats, methods=["GET"]),
        Route("/__sandbox/process", process, methods=["POST"]),
        Route("/__sandbox/reset", reset, methods=["POST"]),
        Route("/__sandbox/faults", faults, methods=["POST"]),
    ]
