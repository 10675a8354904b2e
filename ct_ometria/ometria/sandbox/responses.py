"""HTTP helpers shared by the sandbox routes: RFC 7807 problem responses and account lookup."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .store import Account, SandboxStore

PROBLEM_MEDIA_TYPE = "application/problem+json"
AUTH_HEADER = "X-Ometria-Auth"


def problem(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """``{"type","title","detail","status"}`` body (``application/problem+json``); never include secrets."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "detail": detail, "status": status}
    body.update(extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def store_of(request: Request) -> SandboxStore:
    return request.app.state.sandbox_store


def authenticate(request: Request) -> Account | Response:
    """The account of the ``X-Ometria-Auth`` key, or the configured auth-failure problem response."""
    store = store_of(request)
    key = request.headers.get(AUTH_HEADER)
    status = store.config.auth_failure_status
    if not key:
        return problem(status, f"missing {AUTH_HEADER} header")
    account = store.account_for(key)
    if account is None:
        return problem(status, "API key is not authorised to access this resource")
    return account


def settle(account: Account) -> None:
    """In ``immediate`` mode, reads first apply anything still queued (so reads never race the background task)."""
    if account.config.process_mode == "immediate":
        account.process()
