"""Thread-safe sliding-window rate limiter on ``time.monotonic()``."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Allows ``limit`` requests in any window of ``window`` seconds.

    ``rate_per_second`` >= 1 gives ``floor(rate)`` requests per 1-second window (8/s -> 8 per second);
    a fractional rate below 1 gives one request per ``1/rate`` seconds.
    """

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate must be positive")
        self.limit = max(1, int(rate_per_second))
        self.window = self.limit / rate_per_second
        self._clock = clock
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    @classmethod
    def per_window(cls, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> SlidingWindowLimiter:
        """``limit`` requests in any ``window`` seconds (6 per 60 s is not 1 per 10 s: bursts are allowed)."""
        limiter = cls(limit / window, clock)
        limiter.limit, limiter.window = limit, window
        return limiter

    def try_acquire(self) -> float | None:
        """Record a request and return None when allowed; otherwise return seconds until a slot frees up."""
        with self._lock:
            now = self._clock()
            while self._hits and now - self._hits[0] >= self.window:
                self._hits.popleft()
            if len(self._hits) < self.limit:
                self._hits.append(now)
                return None
            return max(0.0, self.window - (now - self._hits[0]))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
