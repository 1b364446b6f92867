"""How far each source of a worker's events has got in event time (a source: a detect partition).

A worker reads its partitions at different paces. Idle expiry must not run past the slowest one
still delivering, or a partition consumed ahead of another would expire the other's entities
before their later events, already written, are read. A source silent for `silent_after` of wall
time (caught up, or empty) no longer holds the clock back, so state stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SourceClocks:
    """Per source: the latest event time it delivered and the wall time of its last event."""

    def __init__(self, silent_after: float, wall: Callable[[], float] = time.monotonic) -> None:
        self.silent_after, self.wall = silent_after, wall
        self._highs: dict[int, list[float]] = {}

    def saw(self, source: int, ts: float) -> None:
        high = self._highs.get(source)
        if high is None:
            self._highs[source] = [ts, self.wall()]
        else:
            high[0], high[1] = max(high[0], ts), self.wall()

    def slowest(self) -> float | None:
        """The lowest event time among the sources still delivering; None when none is."""
        since = self.wall() - self.silent_after
        delivering = [h for h, seen in self._highs.values() if seen >= since]
        return min(delivering) if delivering else None

    def clear(self) -> None:
        """Forget every source (after a rebalance the partitions may belong to another worker)."""
        self._highs.clear()
