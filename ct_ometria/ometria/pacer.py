"""Keeps the push rate under the Ometria account's limit (8 requests per second by default).

Requests are spaced evenly (one every 1/rate seconds) rather than allowed in bursts up to the
limit: Ometria counts requests in a window on its side, and a burst that fits our window can
straddle its window once network latency shifts the arrivals. A small safety margin absorbs
jitter. ``X-QueueSize-Remaining`` below the low-water mark stretches the spacing, so the sender
slows down before Ometria's asynchronous queue (50,000 records) fills and it starts answering 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

QUEUE_LOW_WATER = 10_000
SAFETY_MARGIN = 0.03


class Gate(Protocol):
    def acquire(self) -> None: ...


class Pacer:
    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared: Gate | None = None,
    ):
        if rate_per_second <= 0:
            raise ValueError(f"rate must be positive, got {rate_per_second}")
        self.interval = (1.0 + SAFETY_MARGIN) / rate_per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._slowdown = 1.0
        self._lock = threading.Lock()
        self.waited = 0.0
        # Other processes pushing to the same account take their slots from this gate too.
        self.shared = shared

    @property
    def slowdown(self) -> float:
        """How many times the normal spacing requests are currently held apart (1 = full rate)."""
        return self._slowdown

    def acquire(self) -> None:
        """Block until the next request may start: at least one spacing after the last one started.

        The spacing runs from the moment a request is really let go, not from the moment it was due: a
        thread that wakes late (its process paused for a garbage collection, or another thread held the
        interpreter) would otherwise start closer to the next request than the spacing, and enough such
        starts put nine requests into Ometria's one-second window."""
        while True:
            with self._lock:
                now = self._clock()
                if now >= self._next:
                    self._next = now + self.interval * self._slowdown
                    break
                wait = self._next - now
            self.waited += wait
            self._sleep(wait)
        if self.shared is not None:
            before = self._clock()
            self.shared.acquire()
            self.waited += self._clock() - before

    def observe_queue(self, remaining: int | None) -> None:
        """Slow down as Ometria's queue fills: 1x above the low-water mark, up to 10x near empty."""
        if remaining is None:
            return
        with self._lock:
            if remaining >= QUEUE_LOW_WATER:
                self._slowdown = 1.0
            else:
                self._slowdown = min(10.0, QUEUE_LOW_WATER / max(remaining, 1_000))

    def defer(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (after a 429 the account is over its rate)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)
