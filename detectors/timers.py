"""A deadline index: which state keys come due by a given time, in O(due) instead of O(state).

A binary heap of (time, key) with lazy deletion: each key has at most one live entry (`_at`);
rescheduling a key earlier pushes a new entry (the old one is skipped when it surfaces),
rescheduling it later changes nothing (the early entry surfaces first and the owner, who keeps
the real deadline in the state itself, re-checks and schedules it again). So an entity touched by
every event costs a dict lookup, not a heap push, and the index holds nothing the state does not:
it is rebuilt from the store after a restart or a rebalance (`Engine.reindex`).
"""

from __future__ import annotations

import heapq


class DeadlineIndex:
    """Keys by the time they are due; `pop_due(now)` yields (and forgets) those due by `now`."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._at: dict[str, float] = {}

    def schedule(self, key: str, when: float | None) -> None:
        """Make `key` come up at `when` at the latest (None: not at all)."""
        at = self._at.get(key)
        if when is None:
            if at is not None:
                del self._at[key]  # its heap entry is skipped when it surfaces
            return
        if at is not None and at <= when:
            return  # the entry already queued comes up first; the caller re-checks then
        self._at[key] = when
        heapq.heappush(self._heap, (when, key))
        if len(self._heap) > 2 * len(self._at) + 4096:
            self._compact()

    def pop_due(self, now: float) -> list[str]:
        """The keys whose entry is due by `now`, removed from the index (reschedule what is not done)."""
        heap, at, due = self._heap, self._at, []
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            if at.get(key) == when:
                del at[key]
                due.append(key)
        return due

    def clear(self) -> None:
        self._heap.clear()
        self._at.clear()

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, key: str) -> bool:
        return key in self._at

    def _compact(self) -> None:
        """Drop the entries skipped over (keys rescheduled earlier or unscheduled)."""
        self._heap = [(when, key) for key, when in self._at.items()]
        heapq.heapify(self._heap)
