"""Per-client limits: uploads per minute (a token bucket per client
address), and failed authentications (a growing lock-out per address)."""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_CLIENTS = 10_000  # buckets kept; idle (full) ones are dropped past this


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def wait_time(self, key: str) -> float:
        """Take one upload for ``key``: 0.0 if allowed, else seconds until one is."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > MAX_CLIENTS:
            self._forget_idle(now, rate)
        return 0.0

    def _forget_idle(self, now: float, rate: float) -> None:
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * rate >= self.per_minute:
                del self._buckets[key]


class FailureThrottle:
    """Failed authentications per client address. Past ``allowed`` failures
    within ``window`` seconds, the address is locked out for ``base`` seconds,
    doubling with every further failure up to ``cap``. Successes add nothing."""

    def __init__(self, allowed: int = 5, window: float = 300.0, base: float = 2.0,
                 cap: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed, self.window, self.base, self.cap = allowed, window, base, cap
        self.clock = clock
        self._state: dict[str, tuple[int, float, float]] = {}  # failures, first, locked until

    def wait_time(self, key: str) -> float:
        """Seconds ``key`` must still wait (0.0 when it may try)."""
        state = self._state.get(key)
        return max(0.0, state[2] - self.clock()) if state else 0.0

    def wait_for_all(self, keys: list[str]) -> float:
        """Seconds until every one of ``keys`` may try (an address and an
        account, say: the longest lock-out of them)."""
        return max((self.wait_time(key) for key in keys), default=0.0)

    def failed_all(self, keys: list[str]) -> None:
        """Count one failure against each of ``keys``."""
        for key in keys:
            self.failed(key)

    def failed(self, key: str) -> float:
        """Count a failure; returns the lock-out it starts (0.0 for none)."""
        now = self.clock()
        failures, first, until = self._state.get(key, (0, now, 0.0))
        if now - first > self.window and until <= now:  # an old run of failures
            failures, first = 0, now
        failures += 1
        lock = 0.0
        if failures > self.allowed:
            lock = min(self.cap, self.base * 2 ** (failures - self.allowed - 1))
            until = now + lock
        self._state[key] = (failures, first, until)
        if len(self._state) > MAX_CLIENTS:
            for old, (_, started, locked) in list(self._state.items()):
                if locked <= now and now - started > self.window:
                    del self._state[old]
        return lock
