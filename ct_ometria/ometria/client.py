"""The Ometria Data API v2 push client.

Ometria's push endpoint takes a JSON array of 1..100 records of one ``@type``, each at most 60 KB,
at most 8 requests per second per account. It answers 202 with ``accepted``/``rejected`` counts and
validates records later (errors surface at ``GET /v2/push/_errors``). 429 and 5xx are retried
with the shared policy, honouring ``Retry-After``; every batch's outcome is recorded so the caller
can report it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import quote
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ct_ometria.canonical import canonical_bytes
from ct_ometria.errors import CtOmetriaError, UpstreamError, UpstreamUnavailable
from ct_ometria.ometria.pacer import Pacer
from ct_ometria.retry import RetryBudget, TransientResponse, raise_for_transient, retrying
from ct_ometria.settings import OmetriaSettings

MAX_RECORDS_PER_REQUEST = 100
MAX_RECORD_BYTES = 60 * 1024
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
REST_RATE_PER_SECOND = 4.0
DELETION_REQUESTS_PER_MINUTE = 6
IN_FLIGHT = 2
RECORD_TYPES = ("contact", "order", "product", "custom_event")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class Encoded:
    """A record in its canonical bytes, with what batching needs to know about it."""

    record_type: str
    record_id: str
    body: bytes

    @classmethod
    def of(cls, record: dict[str, Any]) -> Encoded:
        return cls(str(record.get("@type")), str(record.get("id")), canonical_bytes(record))


@dataclass(frozen=True)
class Refusal:
    """A record this client would not send, and why."""

    record_type: str
    record_id: str
    reason: str


@dataclass(frozen=True)
class BatchResult:
    record_type: str
    record_ids: tuple[str, ...]
    status: int
    request_id: str | None
    accepted: int
    rejected: int
    attempts: int
    latency_seconds: float
    queue_remaining: int | None


@dataclass(frozen=True)
class FailedBatch:
    """A batch Ometria refused outright (a 4xx other than 429), and why."""

    record_type: str
    record_ids: tuple[str, ...]
    reason: str
    status: int | None


@dataclass
class PushReport:
    batches: list[BatchResult] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    failed: list[FailedBatch] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(len(batch.record_ids) for batch in self.batches)

    @property
    def accepted(self) -> int:
        return sum(batch.accepted for batch in self.batches)

    @property
    def rejected(self) -> int:
        return sum(batch.rejected for batch in self.batches)

    @property
    def requests(self) -> int:
        return len(self.batches)

    @property
    def attempts(self) -> int:
        return sum(batch.attempts for batch in self.batches)


class PushAborted(CtOmetriaError):
    """Pushing stopped (Ometria unreachable past the retry budget, or the key refused); ``report``
    says what was delivered before it did."""

    def __init__(self, message: str, report: PushReport):
        super().__init__(message)
        self.report = report


class OmetriaClient:
    def __init__(
        self,
        settings: OmetriaSettings,
        *,
        pacer: Pacer | None = None,
        read_pacer: Pacer | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        budget: RetryBudget = RetryBudget(),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.pacer = pacer or Pacer(settings.push_rate_per_second, sleep=sleep)
        # Ometria's REST (read) endpoints allow 4 requests per second per account.
        self.read_pacer = read_pacer or Pacer(REST_RATE_PER_SECOND, sleep=sleep)
        # Data-deletion requests: 6 in any minute per account (a burst is allowed, so a window, not spacing).
        self._deletions_sent: deque[float] = deque(maxlen=DELETION_REQUESTS_PER_MINUTE)
        self._clock = time.monotonic
        self._budget = budget
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=f"{settings.api_url}/v2",
            transport=transport,
            timeout=timeout,
            headers={
                "X-Ometria-Auth": settings.api_key.get_secret_value(),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        self.throttled = 0
        self.retries = 0
        self._counting = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OmetriaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push(
        self, records: Iterable[dict[str, Any] | Encoded], on_batch: Callable[[BatchResult], None] | None = None
    ) -> PushReport:
        """Send ``records`` in batches of at most 100 of one type; refuse what Ometria would refuse.

        A batch that Ometria refuses outright (a 4xx other than 429) is recorded in ``failed`` and the
        other batches still go; a transient failure that outlasts the retry budget raises
        ``PushAborted``. ``on_batch`` sees each accepted batch as soon as Ometria answered.
        """
        report = PushReport()
        aborted: list[str] = []

        def send(batch: list[Encoded]) -> BatchResult | FailedBatch | str:
            try:
                return self.push_batch(batch)
            except UpstreamError as error:
                if error.status in (401, 403):
                    return str(error)
                return FailedBatch(batch[0].record_type, tuple(item.record_id for item in batch), str(error), error.status)
            except UpstreamUnavailable as error:
                return str(error)

        def collect(outcome: BatchResult | FailedBatch | str) -> None:
            if isinstance(outcome, str):
                aborted.append(outcome)
            elif isinstance(outcome, FailedBatch):
                report.failed.append(outcome)
            else:
                report.batches.append(outcome)
                if on_batch is not None:
                    on_batch(outcome)  # in this thread: callers' bookkeeping needs no locks

        # Two requests in flight: while one is answered and recorded, the next is already on its way
        # at its paced moment (one at a time, a push's round trip and bookkeeping exceed the spacing).
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="ometria-push") as pool:
            pending: deque[Future] = deque()
            for batch in self._batches(records, report.refused):
                pending.append(pool.submit(send, batch))
                while len(pending) >= IN_FLIGHT or (pending and aborted):
                    collect(pending.popleft().result())
                if aborted:
                    break
            while pending:
                collect(pending.popleft().result())
        if aborted:
            raise PushAborted(aborted[0], report)
        return report

    def _batches(self, records: Iterable[dict[str, Any] | Encoded], refused: list[Refusal]) -> Iterator[list[Encoded]]:
        pending: dict[str, list[Encoded]] = {}
        for record in records:
            item = record if isinstance(record, Encoded) else Encoded.of(record)
            if item.record_type not in RECORD_TYPES:
                refused.append(Refusal(item.record_type, item.record_id, f"@type {item.record_type!r} is not one of {RECORD_TYPES}"))
                continue
            if len(item.body) > MAX_RECORD_BYTES:
                reason = f"record is {len(item.body)} bytes, over Ometria's limit of {MAX_RECORD_BYTES}"
                refused.append(Refusal(item.record_type, item.record_id, reason))
                continue
            queue = pending.setdefault(item.record_type, [])
            queue.append(item)
            if len(queue) == MAX_RECORDS_PER_REQUEST:
                yield pending.pop(item.record_type)
        yield from (queue for queue in pending.values() if queue)

    def push_batch(self, batch: list[Encoded] | list[dict[str, Any]]) -> BatchResult:
        """POST one batch to ``/v2/push``: 1..100 records of one ``@type``, each within 60 KB."""
        items = [item if isinstance(item, Encoded) else Encoded.of(item) for item in batch]
        if not 1 <= len(items) <= MAX_RECORDS_PER_REQUEST:
            raise ValueError(f"a push holds 1..{MAX_RECORDS_PER_REQUEST} records, got {len(items)}")
        types = {item.record_type for item in items}
        if len(types) != 1:
            raise ValueError(f"a push holds one @type, got {sorted(types)}")
        for item in items:
            if len(item.body) > MAX_RECORD_BYTES:
                raise ValueError(f"record {item.record_type} {item.record_id} is {len(item.body)} bytes, over {MAX_RECORD_BYTES}")
        payload = b"[" + b",".join(item.body for item in items) + b"]"
        record_ids = tuple(item.record_id for item in items)
        attempts = 0
        started = time.monotonic()

        def on_retry(error: BaseException, wait: float) -> None:
            with self._counting:
                self.retries += 1
                if isinstance(error, TransientResponse) and error.status_code == 429:
                    self.throttled += 1
            if isinstance(error, TransientResponse) and error.status_code == 429:
                self.pacer.defer(wait)

        def call() -> httpx.Response:
            nonlocal attempts
            self.pacer.acquire()
            attempts += 1
            with self.pacer.leaving() as sent:
                response = self._http.post("/push", content=payload, extensions={"trace": _departure(sent)})
            # A full queue answers 429 too: let its header slow the sender before the retry.
            self.pacer.observe_queue(_int_header(response, "X-QueueSize-Remaining"))
            raise_for_transient(response, "Ometria push", TRANSIENT_STATUSES)
            return response

        response = retrying(self._budget, "Ometria push", sleep=self._sleep, on_retry=on_retry)(call)
        queue_remaining = _int_header(response, "X-QueueSize-Remaining")
        if response.status_code >= 300:
            raise UpstreamError(_refusal_message(response, record_ids), status=response.status_code)
        body = _json(response)
        return BatchResult(
            record_type=str(types.pop()),
            record_ids=record_ids,
            status=response.status_code,
            request_id=body.get("request_id"),
            accepted=int(body.get("accepted", len(record_ids))),
            rejected=int(body.get("rejected", 0)),
            attempts=attempts,
            latency_seconds=time.monotonic() - started,
            queue_remaining=queue_remaining,
        )

    def read(self, record_type: str, record_id: str, collection: str = "default") -> dict[str, Any] | None:
        """One stored record from Ometria's REST read endpoints, or None when Ometria has none.

        These endpoints share the Data API's 4 requests per second, paced apart from pushes."""
        path = {"contact": "contacts", "order": "orders", "product": "products"}[record_type]
        params = {"collection": collection} if record_type == "contact" else None

        def call() -> httpx.Response:
            self.read_pacer.acquire()
            response = self._http.get(f"/{path}/{quote(record_id, safe='')}", params=params)
            raise_for_transient(response, f"Ometria GET /{path}", TRANSIENT_STATUSES)
            return response

        response = retrying(self._budget, f"Ometria GET /{path}", sleep=self._sleep)(call)
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise UpstreamError(_refusal_message(response, (record_id,)), status=response.status_code)
        return _json(response)

    def request_deletion(self, hashed_email: str, comment: str) -> str | None:
        """Ask Ometria to anonymise a person (``POST /v2/data-deletion-requests``, GDPR): identified
        by the SHA-256 of their trimmed, lower-cased email, never the email itself. Returns the
        request's id."""
        body = {"action": "anonymise", "identities": [{"hashed_email": hashed_email}], "comment": comment}

        def call() -> httpx.Response:
            if len(self._deletions_sent) == DELETION_REQUESTS_PER_MINUTE:
                wait = 60.0 - (self._clock() - self._deletions_sent[0])
                if wait > 0:
                    self._sleep(wait)
            self._deletions_sent.append(self._clock())
            response = self._http.post("/data-deletion-requests", content=canonical_bytes(body))
            raise_for_transient(response, "Ometria data-deletion request", TRANSIENT_STATUSES)
            return response

        response = retrying(self._budget, "Ometria data-deletion request", sleep=self._sleep)(call)
        if response.status_code >= 300:
            raise UpstreamError(_refusal_message(response, ()), status=response.status_code)
        found = _json(response).get("id")
        return None if found is None else str(found)

    def push_errors(self) -> list[dict[str, Any]]:
        """The newest asynchronous validation errors (``GET /v2/push/_errors``)."""
        response = retrying(self._budget, "Ometria push errors", sleep=self._sleep)(self._get_errors)
        if response.status_code >= 300:
            raise UpstreamError(_refusal_message(response, ()), status=response.status_code)
        errors = response.json()
        return errors if isinstance(errors, list) else []

    def _get_errors(self) -> httpx.Response:
        self.read_pacer.acquire()
        response = self._http.get("/push/_errors")
        raise_for_transient(response, "Ometria push errors", TRANSIENT_STATUSES)
        return response


# httpcore's trace event for the moment a request's first bytes are written (HTTP/1.1, as httpx speaks to Ometria).
_WRITING = "http11.send_request_headers.started"


def _departure(sent: Callable[[], None]) -> Callable[[str, dict[str, Any]], None]:
    """An httpx trace callback that calls ``sent`` when the request really leaves: after a new
    connection is made, not when ``post`` was called."""

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == _WRITING:
            sent()

    return trace


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal_message(response: httpx.Response, record_ids: tuple[str, ...]) -> str:
    body = _json(response)
    # Ometria's title/detail only: a raw body could echo the records (and their personal data).
    detail = body.get("title") or body.get("detail") or body.get("message") or "no detail"
    if response.status_code in (401, 403):
        return f"Ometria refused the API key in OMETRIA_API_KEY (HTTP {response.status_code}): {detail}"
    first = f" (first record id {record_ids[0]}, {len(record_ids)} records)" if record_ids else ""
    return f"Ometria refused the push{first}: HTTP {response.status_code}: {detail}"
