"""One retry policy for every HTTP call this project makes (commercetools and Ometria).

Transient failures are 429, 502, 503, 504 (and 500 where the caller says so), timeouts and dropped
connections. Waits grow exponentially with full jitter, but a ``Retry-After`` header wins because
the server knows best when it can take the next request. The budget is bounded both in attempts
and in total seconds, so a dead API fails the run instead of hanging it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
import tenacity
from tenacity import RetryCallState

from ct_ometria.errors import UpstreamUnavailable


@dataclass(frozen=True)
class RetryBudget:
    max_attempts: int = 8
    max_seconds: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 30.0


class TransientResponse(Exception):
    """A response worth retrying; carries the status and the server's Retry-After, if any."""

    def __init__(self, response: httpx.Response, what: str):
        self.status_code = response.status_code
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        super().__init__(f"{what}: HTTP {response.status_code}")


TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def raise_for_transient(response: httpx.Response, what: str, statuses: Iterable[int]) -> None:
    if response.status_code in statuses:
        raise TransientResponse(response, what)


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, (TransientResponse, *TRANSPORT_ERRORS))


def _wait(budget: RetryBudget) -> Callable[[RetryCallState], float]:
    backoff = tenacity.wait_random_exponential(multiplier=budget.initial_wait, max=budget.max_wait)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientResponse) and error.retry_after is not None:
            # The server said when; honour it, within the whole budget rather than the backoff cap.
            return min(error.retry_after, budget.max_seconds)
        return backoff(state)

    return wait


def retrying(
    budget: RetryBudget,
    what: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> tenacity.Retrying:
    """A tenacity ``Retrying`` for one logical call; iterate it with ``for attempt in ...``."""

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            on_retry(state.outcome.exception(), state.next_action.sleep)

    def give_up(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        raise UpstreamUnavailable(
            f"{what} still failing after {state.attempt_number} attempts "
            f"in {state.seconds_since_start:.1f}s: {describe_transport_error(error)}"
        ) from None

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(_is_transient),
        wait=_wait(budget),
        stop=tenacity.stop_after_attempt(budget.max_attempts) | tenacity.stop_after_delay(budget.max_seconds),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        reraise=False,
    )


def describe_transport_error(error: BaseException | None) -> str:
    """A one-line reason without the request's headers (they carry credentials)."""
    if error is None:
        return "unknown error"
    if isinstance(error, TransientResponse):
        return str(error)
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    if isinstance(error, httpx.HTTPError):
        return f"connection failed ({type(error).__name__}: {error})"
    return f"{type(error).__name__}: {error}"
