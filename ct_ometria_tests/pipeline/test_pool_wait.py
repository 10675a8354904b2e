"""A run waiting for a pool slot sleeps until its claim is retried; it does not spin a core."""

import resource
import threading
import time
from types import SimpleNamespace

from dagster import DagsterInstance, job, op

import ct_ometria.definitions  # noqa: F401  (loads the code location, as every run does)
from ct_ometria.defs import pool_wait


@op(pool="ct_ometria_pool_wait_test")
def takes_a_slot() -> int:
    return 1


@job
def waits_for_its_pool():
    takes_a_slot()


def test_a_run_blocked_on_its_pool_sleeps_and_starts_when_the_slot_is_freed(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("ct_ometria_pool_wait_test", 1)
        assert storage.claim_concurrency_slot("ct_ometria_pool_wait_test", "another-run", "its-step", 0).is_claimed
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.setdefault("result", waits_for_its_pool.execute_in_process(instance=instance)))
        runner.start()
        time.sleep(1.5)  # the run has started and is waiting for the slot
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(3)
        after = resource.getrusage(resource.RUSAGE_SELF)
        busy = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        assert runner.is_alive() and "result" not in outcome, "the run did not wait for the slot"
        storage.free_concurrency_slots_for_run("another-run")
        runner.join(60)
    # Spinning, the waiting run used the whole 3 s of a core; sleeping, a few hundredths.
    assert busy < 0.5, f"{busy:.2f} s of CPU in 3 s of waiting for a pool slot"
    assert outcome["result"].success


def test_dagster_still_answers_zero_for_a_claim_retried_later():
    # When this fails, Dagster computes the wait itself and ct_ometria.defs.pool_wait can go.
    state = SimpleNamespace(_pending_claims={"step"}, _pending_timeouts={"step": time.time() + 5})
    assert pool_wait._UPSTREAM(state) == 0
    assert 4 < pool_wait.interval_to_next_pending_claim_check(state) <= 5
    state._pending_timeouts = {"step": time.time() - 1}
    assert pool_wait.interval_to_next_pending_claim_check(state) == 0
