"""A run waiting for a pool slot sleeps until its claim is retried; it does not spin a core."""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from dagster import DagsterInstance, DagsterRunStatus, job, op

import ct_ometria.definitions  # noqa: F401  (loads the code location, as every run does)
from ct_ometria.defs import pool_wait

ROOT = Path(__file__).resolve().parents[2]
POOL = "ct_ometria_pool_wait_test"


@op(pool=POOL)
def takes_a_slot() -> int:
    return 1


@job
def waits_for_its_pool():
    takes_a_slot()


# The run goes in a process of its own, as a CLI run does; its CPU is read from /proc.
RUN = (
    "import sys; from dagster import DagsterInstance\n"
    "from ct_ometria_tests.pipeline.test_pool_wait import waits_for_its_pool\n"
    "with DagsterInstance.local_temp(sys.argv[1]) as instance:\n"
    "    sys.exit(0 if waits_for_its_pool.execute_in_process(instance=instance).success else 1)\n"
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_a_run_blocked_on_its_pool_sleeps_and_starts_when_the_slot_is_freed(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        assert storage.claim_concurrency_slot(POOL, "another-run", "its-step", 0).is_claimed
        process = subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path)], cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while not storage.get_concurrency_info(POOL).pending_step_count and time.monotonic() < deadline:
                assert process.poll() is None, "the run ended without waiting for its slot"
                time.sleep(0.2)
            assert storage.get_concurrency_info(POOL).pending_step_count == 1, "the run never asked for the slot"
            time.sleep(1)
            before = cpu_seconds(process.pid)
            time.sleep(3)
            busy = cpu_seconds(process.pid) - before
            assert process.poll() is None, "the run did not wait for the slot"
            storage.free_concurrency_slots_for_run("another-run")
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert [run.status for run in instance.get_runs()] == [DagsterRunStatus.SUCCESS]
    # Spinning, the waiting run used the whole 3 s of a core; sleeping, a few hundredths.
    assert busy < 0.5, f"{busy:.2f} s of CPU in 3 s of waiting for a pool slot"


def test_dagster_still_answers_zero_for_a_claim_retried_later():
    # When this fails, Dagster computes the wait itself and ct_ometria.defs.pool_wait can go.
    state = SimpleNamespace(_pending_claims={"step"}, _pending_timeouts={"step": time.time() + 5})
    assert pool_wait._UPSTREAM(state) == 0
    assert 4 < pool_wait.interval_to_next_pending_claim_check(state) <= 5
    state._pending_timeouts = {"step": time.time() - 1}
    assert pool_wait.interval_to_next_pending_claim_check(state) == 0
    state._pending_timeouts = {}  # a claim whose last attempt raised is due now
    assert pool_wait.interval_to_next_pending_claim_check(state) == 0


def test_a_blocked_claim_is_retried_at_least_every_second():
    from dagster._core.execution.plan import instance_concurrency_context

    # Installed with the code location: Dagster's own back-off reaches 10.8 s by the 25th try.
    assert pool_wait._UPSTREAM_RETRY(None, 25) > 10
    assert instance_concurrency_context._calculate_timeout_interval(None, 25) == pool_wait.CLAIM_RETRY_SECONDS == 1.0
    assert instance_concurrency_context._calculate_timeout_interval(None, 0) == 1.0
    assert instance_concurrency_context._calculate_timeout_interval(0.25, 40) == 0.25  # a storage's own interval stands
