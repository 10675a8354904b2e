"""Bulk deliveries to one account push in turns; event deliveries never wait for a turn.

Two processes deliver 500 products each through one PostgreSQL ledger to the sandbox, started
together. Taking turns, the sandbox receives all of one delivery's requests, then all of the
other's; without turns (the control) their requests interleave, each process at its share of the
rate. A turn held elsewhere does not hold up an event delivery or a delivery of one request, and
a turn held past the patience is not waited for any longer.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from itertools import pairwise
from pathlib import Path

import orjson
import pytest

from ct_ometria.delivery import PUSH_TURN, deliver
from ct_ometria.ledger.store import Candidate, Ledger
from ct_ometria.ometria.client import OmetriaClient
from ct_ometria.settings import OmetriaSettings
from ct_ometria_tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
DELIVERER = textwrap.dedent('''
    import os, sys, time
    from ct_ometria.defs.resources import OmetriaResource
    from ct_ometria.delivery import deliver
    from ct_ometria.ledger.store import Ledger
    from ct_ometria_tests.clients.test_push_turns import candidates_for
    name, count, take_turn = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "turns"
    ledger = Ledger(os.environ["LEDGER_URL"], os.environ["LEDGER_SCHEMA"])
    resource = OmetriaResource(api_key=os.environ["PUSH_KEY"], api_url=os.environ["PUSH_URL"],
                               shared_rate_url=os.environ["LEDGER_URL"], shared_rate_schema=os.environ["LEDGER_SCHEMA"])
    items = candidates_for(name, count)
    with resource.client() as client:
        start_at = float(os.environ["START_AT"])
        time.sleep(max(0.0, start_at - time.time()))
        delivery = deliver(client, ledger, items, run_id=name, take_turn=take_turn)
    print(delivery.report.sent, client.throttled, round(delivery.turn_waited, 3))
''')


def deliver_together(sandbox, schema: str, mode: str, count: int = 500) -> list[tuple[int, int, float]]:
    # Both processes load and open their clients first, then start at one agreed moment.
    env = {**os.environ, "PUSH_KEY": sandbox.api_key, "PUSH_URL": sandbox.base_url, "LEDGER_URL": POSTGRES_URL,
           "LEDGER_SCHEMA": schema, "START_AT": str(time.time() + 8)}  # fmt: skip
    Ledger(POSTGRES_URL, schema)  # migrated once, before the processes race for it
    # From the checkout's root, so the processes import this module's candidates_for.
    processes = [subprocess.Popen([sys.executable, "-c", DELIVERER, name, str(count), mode], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True) for name in ("a", "b")]  # fmt: skip
    outputs = [process.communicate(timeout=120)[0].split() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    return [(int(sent), int(throttled), float(waited)) for sent, throttled, waited in outputs]


def senders_in_order(sandbox) -> list[str]:
    """Whose each request was, in the order the sandbox received them."""
    requests = sorted(sandbox.requests(), key=lambda r: r["received_at"])
    assert all(len({record_id.split("-")[0] for record_id in r["record_ids"]}) == 1 for r in requests)
    return [r["record_ids"][0].split("-")[0] for r in requests]


def runs_of(senders: list[str]) -> int:
    return 1 + sum(1 for before, after in pairwise(senders) if before != after)


def test_two_bulk_deliveries_started_together_push_one_after_the_other(sandbox, ledger_schema):
    results = deliver_together(sandbox, ledger_schema, "turns")
    assert [(sent, throttled) for sent, throttled, _ in results] == [(500, 0), (500, 0)]
    senders = senders_in_order(sandbox)
    assert sorted(senders) == ["a"] * 5 + ["b"] * 5
    assert runs_of(senders) == 2, senders
    # The second waited about as long as the first took to push its five requests at 8 per second.
    assert max(waited for _, _, waited in results) > 0.4


def test_without_turns_the_same_deliveries_push_side_by_side(sandbox, ledger_schema):
    # The control: the same two deliveries, not taking turns, interleave at the shared rate.
    results = deliver_together(sandbox, ledger_schema, "side-by-side")
    assert [sent for sent, _, _ in results] == [500, 500]
    assert runs_of(senders_in_order(sandbox)) > 2


def candidates_for(name: str, count: int) -> list[Candidate]:
    bodies = [orjson.dumps({"@type": "product", "id": f"{name}-{i}", "title": "x"}) for i in range(count)]
    return [Candidate("product", f"{name}-{i}", hashlib.sha256(b).hexdigest(), b) for i, b in enumerate(bodies)]


@pytest.fixture
def held_turn(ledger_schema):
    """The account's turn, held by another holder for the whole test."""
    ledger = Ledger(POSTGRES_URL, ledger_schema)
    with ledger.exclusive(PUSH_TURN):
        yield ledger


def test_a_held_turn_does_not_hold_up_events_or_a_single_request(sandbox, held_turn):
    with OmetriaClient(OmetriaSettings.build(api_key=sandbox.api_key, api_url=sandbox.base_url)) as client:
        events = deliver(client, held_turn, candidates_for("event", 300), run_id="events")
        small = deliver(client, held_turn, candidates_for("small", 100), run_id="daily", take_turn=True)
    assert (events.report.sent, events.turn_waited, events.turn_skipped) == (300, 0.0, False)
    assert (small.report.sent, small.turn_waited, small.turn_skipped) == (100, 0.0, False)


def test_a_turn_held_past_the_patience_is_not_waited_for_any_longer(sandbox, held_turn, monkeypatch):
    monkeypatch.setattr("ct_ometria.delivery.TURN_PATIENCE_SECONDS", 1.0)
    with OmetriaClient(OmetriaSettings.build(api_key=sandbox.api_key, api_url=sandbox.base_url)) as client:
        delivery = deliver(client, held_turn, candidates_for("late", 250), run_id="backfill", take_turn=True)
    assert delivery.report.sent == 250
    assert delivery.turn_skipped
    assert 1.0 <= delivery.turn_waited < 5
