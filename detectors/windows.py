"""Event-time sliding windows kept as JSON lists, shared by the counting detectors.

A window is `[[ts, item], ...]` sorted by (ts, item): every writer inserts in order, so what falls
out of it is a prefix (cut by bisection, not a scan), and the copies of an event delivered twice
(its id in the item, its time as ts) are one entry repeated, side by side. `slide` says which distinct items came in and went out, so a detector can
keep its counts up to date per event instead of recounting up to MAX_ITEMS items each time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from detectors.base import State

MAX_ITEMS = 1000  # bounds the state of one entity whatever the threshold
_TS = itemgetter(0)


def add(state: State | None, ts: float, item: str, window_s: float) -> State:
    """Add (ts, item) to the window and drop what fell out of it, by event time."""
    return {"w": slide(state["w"] if state else [], ts, item, window_s)[0]}


def slide(window: list[list[Any]], ts: float, item: str, window_s: float) -> tuple[list[list[Any]], bool, list[str]]:
    """A copy of `window` with (ts, item) added and what fell out of it dropped (older than the
    newest entry by `window_s` or more, then the oldest beyond MAX_ITEMS); whether the item is new
    (not a copy of one held), and the items that left, each once, when no copy of it is left."""
    entries = list(window)
    entry = [ts, item]
    at = bisect_right(entries, entry)
    new = at == 0 or entries[at - 1] != entry
    entries.insert(at, entry)
    cut = max(bisect_right(entries, entries[-1][0] - window_s, key=_TS), len(entries) - MAX_ITEMS)
    if cut <= 0:
        return entries, new, []
    last = len(entries) - 1
    gone = [e[1] for i, e in enumerate(entries[:cut]) if i == last or entries[i + 1] != e]  # the last copy of each
    return entries[cut:], new, gone


def items(state: State | None) -> list[str]:
    """The items currently in the window, oldest first."""
    return [e[1] for e in state["w"]] if state else []


def distinct(state: State | None, value_of: Callable[[str], str] = lambda item: item) -> set[str]:
    """Distinct values among the window's items."""
    return {value_of(e[1]) for e in state["w"]} if state else set()


def count(counts: dict[str, int], value: str, delta: int) -> None:
    """Add `delta` to `value`'s count, forgetting it at zero (counts of distinct window items)."""
    n = counts.get(value, 0) + delta
    if n > 0:
        counts[value] = n
    else:
        counts.pop(value, None)
