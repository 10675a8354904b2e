"""The commercetools HTTP client: authenticated GETs, one retry policy, keyset paging.

Paging is keyset, never offset: commercetools caps ``offset`` at 10,000 and offset pages get slower
as they go. Each page asks ``sort=id asc``, ``where=id > :last`` plus the caller's predicate,
``limit=500`` and ``withTotal=false`` (a total costs the server a count on every page).
Predicates take their values as input variables (``var.name``), so data never becomes syntax.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from ct_ometria.commercetools.auth import TokenProvider, error_code_and_message
from ct_ometria.errors import UpstreamError
from ct_ometria.retry import RetryBudget, raise_for_transient, retrying
from ct_ometria.settings import CommercetoolsSettings

TRANSIENT_STATUSES = (429, 502, 503, 504)
MAX_PAGE_SIZE = 500
# commercetools answers a query that has a `where` with a `total` of at most this (an estimate).
TOTAL_CAP = 10_000
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def ct_datetime(moment: dt.datetime) -> str:
    """UTC with milliseconds and a Z: the one form commercetools (and its emulator) compares correctly."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC datetime")
    utc = moment.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_ct_datetime(text: str) -> dt.datetime:
    """A commercetools timestamp (``2024-05-02T09:00:00.000Z``) as an aware datetime."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def modified_window_predicate(start: dt.datetime, end: dt.datetime) -> tuple[str, dict[str, str]]:
    """The half-open window [start, end) on ``lastModifiedAt``, as a predicate and its variables."""
    return (
        "lastModifiedAt >= :windowStart and lastModifiedAt < :windowEnd",
        {"windowStart": ct_datetime(start), "windowEnd": ct_datetime(end)},
    )


# A quote, backslash or line break in a predicate means a value was pasted into it: a crafted value
# (an id, an email, a container name from the config) could then close the literal and widen the query.
_LITERAL = re.compile(r"[\"'\\\r\n]")


def check_predicates(path: str, params: Sequence[tuple[str, str]] | Mapping[str, str]) -> None:
    """Refuse a ``where`` that holds a string literal: values go as input variables (``var.name``).

    The message names the path, not the predicate: a pasted value may be personal data."""
    pairs = params.items() if isinstance(params, Mapping) else params
    for name, value in pairs:
        if name == "where" and _LITERAL.search(value):
            raise ValueError(
                f"commercetools GET {path}: a predicate holds a literal value; pass values as input variables "
                "(where='email = :email', var.email=...)"
            )


class CommercetoolsClient:
    def __init__(
        self,
        settings: CommercetoolsSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        budget: RetryBudget = RetryBudget(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self._http = httpx.Client(transport=transport, timeout=timeout, headers={"Accept": "application/json"})
        self._budget = budget
        self._sleep = sleep
        self.auth = TokenProvider(settings, self._http, budget, clock=clock, sleep=sleep)
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CommercetoolsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Sequence[tuple[str, str]] | Mapping[str, str] = ()) -> dict[str, Any]:
        """GET ``/{projectKey}{path}``; retries transient failures and renews a refused token once."""
        check_predicates(path, params)
        url = f"{self.settings.api_url}/{self.settings.project_key}{path}"
        what = f"commercetools GET {path}"
        renewed = False

        def on_retry(error: BaseException, wait: float) -> None:
            self.retries += 1

        def call() -> httpx.Response:
            nonlocal renewed
            token = self.auth.token()
            self.requests += 1
            response = self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 401 and not renewed:
                # A revoked or early-expired token: fetch a new one and try again, once.
                renewed = True
                self.auth.invalidate(token)
                token = self.auth.token()
                self.requests += 1
                response = self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
            raise_for_transient(response, what, TRANSIENT_STATUSES)
            return response

        response = retrying(self._budget, what, sleep=self._sleep, on_retry=on_retry)(call)
        if response.status_code >= 400:
            code, message = error_code_and_message(response)
            raise UpstreamError(
                f"{what} failed: HTTP {response.status_code} {code}: {message}",
                status=response.status_code,
                code=code,
            )
        return response.json()

    def pages(
        self,
        resource: str,
        *,
        where: str | None = None,
        variables: Mapping[str, str] | None = None,
        expand: Sequence[str] = (),
        extra: Sequence[tuple[str, str]] = (),
        limit: int = MAX_PAGE_SIZE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every result of ``/{resource}`` matching ``where``, one page at a time, by ascending id."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE}, got {limit}")
        last_id: str | None = None
        while True:
            params: list[tuple[str, str]] = [("sort", "id asc"), ("limit", str(limit)), ("withTotal", "false")]
            if where:
                params.append(("where", where))
            for name, value in (variables or {}).items():
                params.append((f"var.{name}", value))
            if last_id is not None:
                params.append(("where", "id > :lastId"))
                params.append(("var.lastId", last_id))
            params.extend(("expand", item) for item in expand)
            params.extend(extra)
            results = self.get(f"/{resource}", params).get("results", [])
            if results:
                yield results
                last_id = results[-1]["id"]
            if len(results) < limit:
                return

    def modified_between(
        self, resource: str, start: dt.datetime, end: dt.datetime, **kwargs: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``resource`` whose ``lastModifiedAt`` falls in [start, end)."""
        where, variables = modified_window_predicate(start, end)
        return self.pages(resource, where=where, variables=variables, **kwargs)

    def count_modified(self, resource: str, start: dt.datetime, end: dt.datetime) -> int | None:
        """How many of ``resource`` were last modified in [start, end), by commercetools' ``total``
        (one result read). With a ``where``, commercetools caps ``total`` at ``TOTAL_CAP`` and
        estimates it: a count at the cap means "at least that many". None when no total came back."""
        where, variables = modified_window_predicate(start, end)
        params = [("limit", "1"), ("withTotal", "true"), ("where", where)]
        params += [(f"var.{name}", value) for name, value in variables.items()]
        total = self.get(f"/{resource}", params).get("total")
        return total if isinstance(total, int) and total >= 0 else None
