"""Per-caller rate limits: a token bucket per token subject, in memory (one service process)."""

from __future__ import annotations

import time
from collections import OrderedDict


class RateLimiter:
    """`rate_per_minute` sustained, `burst` at once; remembers at most `max_callers` callers."""

    def __init__(self, rate_per_minute: int, burst: int, max_callers: int = 100_000) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, caller: str, now: float | None = None) -> float:
        """0 when the caller may go on (a token is taken), else the seconds until they may retry."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(caller, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[caller] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)  # the least recently seen caller starts afresh
        return wait
