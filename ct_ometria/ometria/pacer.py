"""Keeps the push rate under the Ometria account's limit (8 requests per second by default).

Requests are spaced evenly (one every 1/rate seconds) rather than allowed in bursts up to the
limit: Ometria counts requests in a window on its side, and a burst that fits our window can
straddle its window once network latency shifts the arrivals. A small safety margin absorbs
jitter. ``X-QueueSize-Remaining`` below the low-water mark stretches the spacing, so the sender
slows down before Ometria's asynchronous queue (50,000 records) fills and it starts answering 429.

The spacing is kept from the moment a request is let go; ``leaving`` keeps the account's count
from the moment it really leaves. A request can leave later than its slot (its thread waited
for the interpreter, the process for the CPU) and arrive beside the next one on time: eight slots
apart but less than a second, nine in Ometria's second. ``leaving`` keeps any ``floor(rate) + 1``
requests this process sends at least ``floor(rate)`` spacings apart by their real departures.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        # The real departures of the last floor(rate) requests, and the least time the next one and
        # the oldest of them may be apart: 1.03 s at 8 per second.
        self._departures: deque[float] = deque(maxlen=max(1, math.floor(rate_per_second)))
        self.window = self._departures.maxlen * self.interval
        self._leaving = 0  # requests let through by ``leaving`` whose first byte is not written yet
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

    @contextmanager
    def leaving(self) -> Iterator[Callable[[], None]]:
        """Hold the request about to leave until it would be at most the ``floor(rate)``-th in any
        ``window`` of this process's real departures, then give the caller the function to call
        when its first byte is really written. Used right before sending, after ``acquire``; it
        waits only when an earlier request left late.

        A request let through but not yet written counts as leaving now, so two threads let through
        together are never both checked against the same oldest departure; one that never leaves (its
        connection failed) gives its place back. Only its first call counts (a proxy's tunnel writes
        twice)."""
        held = 0.0
        while True:
            with self._lock:
                now = self._clock()
                # The departures the next request is counted with: those recorded, and the requests let
                # through that have not left yet, as leaving now.
                recent = [*self._departures, *[now] * self._leaving][-self._departures.maxlen:]
                wait = recent[0] + self.window - now if len(recent) == self._departures.maxlen else 0.0
                if wait <= 0:
                    self._leaving += 1
                    # The next slot moves by as much as this request was held, so the next request keeps
                    # its spacing from this one (no burst behind a long hold, no loss for a short one).
                    self._next += held
                    break
            held += wait
            self.waited += wait
            self._sleep(wait)
        departed = False

        def settle(left: bool) -> None:
            nonlocal departed
            with self._lock:
                if not departed:
                    departed = True
                    self._leaving -= 1
                    if left:
                        self._departures.append(self._clock())

        try:
            yield lambda: settle(left=True)
        finally:
            settle(left=False)

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
