"""A run waiting for a pool slot sleeps until its next claim, instead of spinning on a core.

Dagster 1.13's in-process plan loop sleeps ``sleep_interval()`` when no step can start, and for a
step waiting on a pool slot that is ``InstanceConcurrencyContext.interval_to_next_pending_claim_check``,
which returns ``min([0, *remaining])``: never above zero. So every run blocked on the ``ometria`` pool
(a third CLI run, or two with one slot) spun a full core until its slot came, while the claim itself
is retried only when its back-off has passed (1 s, growing to 15 s). On two cores that spin cost the
sync 1.8x to 3x its CPU (``BENCHMARKS.md``). The fix below returns the time to the earliest retry,
as the method's own name says; the loop then sleeps until the claim is retried, which is when it
could have started anyway. Only the in-process loop calls it (``ct-ometria sync``, in-process runs);
the multiprocess executor has its own loop.

The claim itself is retried after Dagster's back-off, 1 s growing by 10% a try to 15 s: a run that
waited a minute for the push slot asked again only every 6-15 s, and a freed slot stayed unused that
long, a gap in the account's push every time one run handed the slot to the next. Runs here wait for
a slot another run frees within seconds, so a blocked claim is retried at least every
``CLAIM_RETRY_SECONDS`` (a few queries of the instance database each).

Written here, not upstream's, because no released Dagster has it yet; ``test_pool_wait`` fails once
Dagster's own method stops returning zero for a future retry, and then this module can go.
"""

from __future__ import annotations

import time

from dagster._core.execution.plan import instance_concurrency_context
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

_UPSTREAM = InstanceConcurrencyContext.interval_to_next_pending_claim_check
_UPSTREAM_RETRY = instance_concurrency_context._calculate_timeout_interval
CLAIM_RETRY_SECONDS = 1.0


def interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    """Seconds until the earliest pending claim is retried (0 when one is due or none is pending)."""
    if not self._pending_claims:
        return 0.0
    # A pending claim without a timeout (its last claim raised) is due now, as upstream treats it.
    earliest = min(self._pending_timeouts.get(key, 0.0) for key in self._pending_claims)
    return max(0.0, earliest - time.time())


def claim_retry_interval(sleep_interval: float | None, pending_claim_count: int) -> float:
    """Dagster's wait before a blocked claim is tried again, at most ``CLAIM_RETRY_SECONDS``."""
    return min(CLAIM_RETRY_SECONDS, _UPSTREAM_RETRY(sleep_interval, pending_claim_count))


def install() -> None:
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = interval_to_next_pending_claim_check
    instance_concurrency_context._calculate_timeout_interval = claim_retry_interval
