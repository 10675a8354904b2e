"""Faults injected into real runs; after the faults stop and a rerun completes, nothing is lost.

Each scenario compares what the sandbox holds with what a fault-free run of the same sequence left
(see ``harness.play``) and adds a row to the reliability report in the README.
"""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from ct_ometria_tests.reliability import harness as h
from ct_ometria_tests.reliability.conftest import POSTGRES_URL


def injected(row: h.Row, side: str) -> set[str]:
    """The kinds of fault the proxy in front of ``side`` injected at least once."""
    return {kind.split()[-1] for kind, count in row.faults.items() if kind.startswith(side) and count}


def test_commercetools_429_5xx_timeouts_and_resets_on_a_tenth_of_requests(truth, emulator, sandbox, fault_env, report):
    scenario = h.Scenario("commercetools: 429, 502, 503, timeouts, resets on 10%", ct_faults="429,502,503,timeout,reset",
                          days_per_run=1)  # fmt: skip
    row = h.play(scenario, truth, emulator, sandbox, fault_env)
    assert injected(row, "commercetools") == {"429", "502", "503", "timeout", "reset"}, row.faults
    report(row)


def test_ometria_429_500_slow_and_lost_answers_on_a_tenth_of_requests(truth, emulator, sandbox, fault_env, report):
    scenario = h.Scenario("Ometria: 429, 500, slow, resets, lost answers on 10%", ometria_faults="429,500,slow,reset,lost",
                          days_per_run=1)  # fmt: skip
    row = h.play(scenario, truth, emulator, sandbox, fault_env)
    assert injected(row, "Ometria") == {"429", "500", "slow", "reset", "lost"}, row.faults
    report(row)


def test_ometria_rejecting_and_failing_valid_records(truth, emulator, sandbox, fault_env, report):
    scenario = h.Scenario("Ometria: 3% rejected on arrival, 3% asynchronous errors",
                          chaos={"reject_rate": 0.03, "async_error_rate": 0.03})  # fmt: skip
    row = h.play(scenario, truth, emulator, sandbox, fault_env)
    assert row.faults["Ometria rejected on arrival"] and row.faults["Ometria asynchronous error"]
    report(row)


def _after_pushes(sandbox, process, count: int) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 180
    while sum(1 for r in sandbox.requests() if r["status"] == 202) < count:
        assert process.poll() is None, "the sync ended before the fault could be injected"
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_run_killed_with_sigkill_mid_push_then_rerun(truth, emulator, sandbox, fault_env, report):
    sandbox.post("faults", {"latency_seconds": 0.2})

    def kill(process) -> dict[str, int]:  # noqa: ANN001
        _after_pushes(sandbox, process, 4)
        process.kill()
        return {"SIGKILL mid-push": 1}

    row = h.play(h.Scenario("SIGKILL of the sync mid-push, then a rerun"), truth, emulator, sandbox, fault_env, during=kill)
    assert row.first_run.startswith("exit -9")
    report(row)


def test_the_ledger_connection_dropped_during_a_run(truth, emulator, sandbox, fault_env, report):
    sandbox.post("faults", {"latency_seconds": 0.1})
    name = fault_env["CT_OMETRIA_DATABASE_SCHEMA"]

    def drop(process) -> dict[str, int]:  # noqa: ANN001
        _after_pushes(sandbox, process, 4)
        with create_engine(POSTGRES_URL).connect() as connection:
            dropped = connection.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                              "WHERE application_name = :name"), {"name": name}).scalar()  # fmt: skip
        assert dropped, "the run held no ledger connection to drop"
        return {"PostgreSQL connections dropped": dropped}

    row = h.play(h.Scenario("PostgreSQL ledger connections dropped mid-run"), truth, emulator, sandbox, fault_env, during=drop)
    # The shared push rate takes a fresh connection and the ledger reconnects (pre-ping): the run goes on.
    # Only a ledger statement caught in flight by the drop may still fail it (truthfully, healed above).
    if row.first_run != "exit 0; runs 1 success":
        assert "shared_rate" not in row.first_output and "pyrate_limiter" not in row.first_output, row.first_output[-3000:]
    report(row)
