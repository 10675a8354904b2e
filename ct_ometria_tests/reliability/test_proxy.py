"""The fault proxy does what the report says it injected: each kind, seen from the client."""

from __future__ import annotations

import time

import httpx
import pytest

from ct_ometria_tests.reliability import harness as h


@pytest.fixture(scope="module")
def proxy(sandbox_server):
    proxy = h.Proxy(sandbox_server.base_url, rate=1.0, kinds="429", seed=1)
    yield proxy
    proxy.stop()


def push(proxy, sandbox) -> httpx.Response:  # noqa: ANN001
    record = {"@type": "product", "id": "p-1", "title": "Product 1"}
    return httpx.post(f"{proxy.url}/v2/push", json=[record], headers={"X-Ometria-Auth": sandbox.api_key}, timeout=1.5)


def faults(proxy, kinds: str) -> None:  # noqa: ANN001
    httpx.post(f"{proxy.url}/__proxy/faults", json={"rate": 1.0, "kinds": kinds.split(",")}, timeout=5).raise_for_status()


@pytest.mark.parametrize("status", ["429", "500", "502", "503"])
def test_status_faults_never_reach_the_upstream(proxy, sandbox, status):
    faults(proxy, status)
    answer = push(proxy, sandbox)
    assert answer.status_code == int(status) and sandbox.requests() == []
    assert (answer.headers.get("Retry-After") == "1") == (status == "429")


def test_slow_answers_arrive_late_and_right(proxy, sandbox):
    faults(proxy, "slow")
    started = time.monotonic()
    assert push(proxy, sandbox).status_code == 202
    assert time.monotonic() - started >= 0.5 and len(sandbox.requests()) == 1


def test_a_held_request_times_out_and_a_reset_one_fails_before_the_upstream(proxy, sandbox):
    faults(proxy, "timeout")
    with pytest.raises(httpx.ReadTimeout):
        push(proxy, sandbox)
    faults(proxy, "reset")
    with pytest.raises(httpx.TransportError):
        push(proxy, sandbox)
    assert sandbox.requests() == []


def test_a_lost_answer_reaches_the_upstream_but_not_the_client(proxy, sandbox):
    faults(proxy, "lost")
    with pytest.raises(httpx.TransportError):
        push(proxy, sandbox)
    assert [r["status"] for r in sandbox.requests()] == [202]


def test_kinds_take_turns_and_a_zero_rate_passes_everything(proxy, sandbox):
    faults(proxy, "429,500,502,503")
    assert sorted(push(proxy, sandbox).status_code for _ in range(4)) == [429, 500, 502, 503]
    httpx.post(f"{proxy.url}/__proxy/faults", json={"rate": 0}, timeout=5)
    assert push(proxy, sandbox).status_code == 202
