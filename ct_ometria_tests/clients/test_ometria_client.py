"""The Ometria push client against the real sandbox: batching, size refusal, pacing, retries, counts."""

import time

import httpx
import pytest

from ct_ometria.errors import UpstreamError
from ct_ometria.ometria.client import OmetriaClient, PushAborted
from ct_ometria.ometria.pacer import Pacer
from ct_ometria.ometria.sandbox import SandboxConfig, running_sandbox
from ct_ometria.retry import RetryBudget
from ct_ometria.settings import OmetriaSettings

FAST = RetryBudget(max_attempts=5, max_seconds=30, initial_wait=0.01, max_wait=0.2)


def contact(i: int, **extra) -> dict:
    return {"@type": "contact", "id": f"c-{i:05d}", "email": f"u{i}@example.com", **extra}


def product(i: int) -> dict:
    return {"@type": "product", "id": f"p-{i}", "title": f"Product {i}"}


def client_for(url: str, key: str, **kwargs) -> OmetriaClient:
    return OmetriaClient(OmetriaSettings.build(api_key=key, api_url=url), budget=kwargs.pop("budget", FAST), **kwargs)


def test_batches_hold_at_most_100_records_of_one_type(sandbox):
    records = [contact(i) for i in range(130)] + [product(i) for i in range(30)] + [contact(i) for i in range(130, 250)]
    with client_for(sandbox.base_url, sandbox.api_key) as client:
        report = client.push(records)
    assert report.sent == 280 and report.accepted == 280 and report.rejected == 0
    log = sandbox.requests()
    assert sorted((entry["type"], entry["record_count"]) for entry in log) == [
        ("contact", 50), ("contact", 100), ("contact", 100), ("product", 30),
    ]  # fmt: skip
    assert {entry["status"] for entry in log} == {202}
    assert all(batch.request_id for batch in report.batches)
    assert len(sandbox.records("contact")) == 250 and len(sandbox.records("product")) == 30


def test_a_record_over_60_kb_is_refused_with_its_id_and_its_neighbours_go(sandbox):
    big = contact(2, properties={"note": "x" * (61 * 1024)})
    with client_for(sandbox.base_url, sandbox.api_key) as client:
        report = client.push([contact(1), big, contact(3)])
    assert [(r.record_type, r.record_id) for r in report.refused] == [("contact", "c-00002")]
    assert "over Ometria's limit of 61440" in report.refused[0].reason
    assert sorted(r["id"] for r in sandbox.records("contact")) == ["c-00001", "c-00003"]


def test_1250_records_at_the_default_rate_draw_no_429(sandbox):
    started = time.monotonic()
    with client_for(sandbox.base_url, sandbox.api_key) as client:
        report = client.push(contact(i) for i in range(1250))
        # On failure, when each request arrived: a late client or a late stamp on the sandbox's side.
        arrivals = [(entry["received_at"][17:], entry["status"]) for entry in sandbox.requests()]
        assert client.throttled == 0 and client.retries == 0, arrivals
    elapsed = time.monotonic() - started
    log = sandbox.requests()
    assert len(log) == 13 and {entry["status"] for entry in log} == {202}
    assert max(entry["record_count"] for entry in log) == 100
    assert report.accepted == 1250
    # 13 requests at 8/s cannot take less than 12 intervals of 1/8 s.
    assert elapsed >= 12 / 8


def test_429_with_retry_after_is_honoured_and_everything_arrives(sandbox):
    sandbox.post("faults", {"status": 429, "times": 2, "retry_after": 1})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with client_for(sandbox.base_url, sandbox.api_key, sleep=sleep) as client:
        report = client.push(contact(i) for i in range(150))
        assert client.throttled == 2
    # Two batches, two 429s between them (two requests are in flight at once): two extra attempts.
    assert report.accepted == 150 and report.attempts == 4
    assert waits.count(1.0) >= 2
    assert len(sandbox.records("contact")) == 150


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(sandbox, status):
    sandbox.post("faults", {"status": status, "times": 1})
    with client_for(sandbox.base_url, sandbox.api_key) as client:
        report = client.push([contact(1)])
        assert client.retries == 1
    assert report.accepted == 1


def test_a_refused_key_stops_the_push_naming_the_variable_not_the_key(sandbox):
    with client_for(sandbox.base_url, "wrong-key-value") as client:
        with pytest.raises(PushAborted) as raised:
            client.push([contact(1)])
        with pytest.raises(UpstreamError) as single:
            client.push_batch([contact(1)])
    assert single.value.status == 403
    assert "HTTP 403" in str(raised.value) and raised.value.report.sent == 0
    assert "OMETRIA_API_KEY" in str(raised.value) and "wrong-key-value" not in str(raised.value)


def test_an_unreachable_ometria_stops_the_push_and_keeps_what_was_delivered(sandbox):
    sandbox.post("faults", {"status": 503, "times": 10})
    with client_for(sandbox.base_url, sandbox.api_key, sleep=lambda _: None) as client:
        with pytest.raises(PushAborted) as raised:
            client.push(contact(i) for i in range(150))
    assert "Ometria push still failing after 5 attempts" in str(raised.value)
    assert raised.value.report.sent == 0


def test_rejected_counts_are_recorded_and_errors_harvested():
    config = SandboxConfig(api_keys=["k-sync"], sync_rejects=True)
    with running_sandbox(config) as url, client_for(url, "k-sync") as client:
        report = client.push([contact(1), contact(2, gender="x"), contact(3, email="not-an-email")])
        assert (report.accepted, report.rejected) == (1, 2)
        paths = sorted(error["error_path"] for error in client.push_errors())
    assert paths == ["root > email", "root > gender"]


def test_a_filling_queue_slows_the_sender():
    config = SandboxConfig(api_keys=["k-queue"], queue_capacity=10_050, process_mode="manual")
    with running_sandbox(config) as url, client_for(url, "k-queue") as client:
        base = client.pacer.interval
        client.push(contact(i) for i in range(100))
        assert client.pacer.slowdown == pytest.approx(10_000 / 9_950)  # from the response's header
        client.pacer.observe_queue(2_000)
        assert client.pacer.slowdown == 5.0
        httpx.post(f"{url}/__sandbox/process", headers={"X-Ometria-Auth": "k-queue"})
        client.push([contact(101)])
        assert client.pacer.slowdown == 1.0
        assert client.pacer.interval == base
        # While slowed, requests really are further apart.
        now = [0.0]
        slowed = Pacer(8, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
        slowed.observe_queue(2_000)
        slowed.acquire()
        slowed.acquire()
        assert now[0] == pytest.approx(5 * 1.03 / 8)


def test_pacer_spaces_requests_evenly():
    now = [0.0]
    starts: list[float] = []
    pacer = Pacer(8, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(17):
        pacer.acquire()
        starts.append(now[0])
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap == pytest.approx(1.03 / 8) for gap in gaps)
    # Never more than 8 starts in any one-second window.
    assert max(sum(1 for t in starts if s <= t < s + 1) for s in starts) == 8


def test_pacer_spaces_requests_from_when_they_really_start():
    # The second request's thread wakes 100 ms late (a collection paused its process): the third still
    # starts a whole spacing after the second really started, not after the moment it was due.
    now = [0.0]
    late = [0.1]  # the first sleep is the second request's

    def sleep(seconds: float) -> None:
        now[0] += seconds + (late.pop(0) if late else 0.0)

    pacer = Pacer(8, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(5):
        pacer.acquire()
        starts.append(now[0])
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[0] == pytest.approx(1.03 / 8 + 0.1)
    assert min(gaps) >= 1.03 / 8 - 1e-9


def _fake_time() -> tuple[list[float], dict]:
    now = [0.0]
    return now, {"clock": lambda: now[0], "sleep": lambda s: now.__setitem__(0, now[0] + s)}


def test_pacer_holds_a_request_whose_eighth_predecessor_left_late():
    # The first request really leaves 0.3 s after its slot; the pacer spaces the next ones from when
    # they are let go, so without the hold the ninth would leave 0.9 s after the first: nine in
    # Ometria's second. It is held until 1.03 s after the first really left, and the tenth keeps a
    # whole spacing after the ninth (no burst behind a held request).
    now, fake = _fake_time()
    pacer = Pacer(8, **fake)
    departures = []
    for i in range(12):
        pacer.acquire()
        if i == 0:
            now[0] += 0.3
        with pacer.leaving() as sent:
            sent()
        departures.append(now[0])
    assert departures[8] == pytest.approx(departures[0] + 8 * 1.03 / 8)
    assert departures[9] - departures[8] == pytest.approx(1.03 / 8)
    # Any nine consecutive departures span at least the window.
    assert min(b - a for a, b in zip(departures, departures[8:], strict=False)) >= 1.03 - 1e-9
    # On time, the hold never waits.
    now, fake = _fake_time()
    on_time = Pacer(8, **fake)
    for _ in range(17):
        on_time.acquire()
        with on_time.leaving() as sent:
            sent()
    assert now[0] == pytest.approx(16 * 1.03 / 8)


def test_two_requests_let_through_together_are_not_checked_against_the_same_departure():
    # Eight departures 0.1 s apart (a burst the pacer would not make, as if another thread's requests
    # had left late), then two requests let through before either is written, as the push client's
    # two threads can be: the second counts the first as leaving, so it waits for the second-oldest.
    now, fake = _fake_time()
    pacer = Pacer(8, **fake)
    departures = []
    for _ in range(8):
        with pacer.leaving() as sent:
            sent()
        departures.append(now[0])
        now[0] += 0.1
    with pacer.leaving() as first:
        with pacer.leaving() as second:
            first()
            departures.append(now[0])
            second()
            departures.append(now[0])
    assert min(b - a for a, b in zip(departures, departures[8:], strict=False)) >= 1.03 - 1e-9
    # A request that never left (its connection failed) gives its place back, and only a request's
    # first write counts.
    with pacer.leaving():
        pass
    with pacer.leaving() as sent:
        sent()
        sent()
    assert pacer._leaving == 0 and len(pacer._departures) == 8


class _FirstLeavesLate(httpx.HTTPTransport):
    """The first request leaves 0.3 s after its slot (its thread waited for the CPU): the one moment no
    server can produce on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests == 1:
            time.sleep(0.3)
        return super().handle_request(request)


def test_a_request_that_left_late_does_not_put_nine_into_the_sandboxs_second(sandbox):
    with client_for(sandbox.base_url, sandbox.api_key, transport=_FirstLeavesLate()) as client:
        for i in range(12):
            client.push_batch([contact(i)])
        assert client.throttled == 0
    log = sandbox.requests()
    assert len(log) == 12 and {entry["status"] for entry in log} == {202}
    assert sandbox.get("stats")["throttled"] == 0


def test_pacer_defer_holds_requests_back():
    now = [10.0]
    pacer = Pacer(8, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    pacer.acquire()
    pacer.defer(2.0)
    pacer.acquire()
    assert now[0] == pytest.approx(12.0)
