"""Event-time sliding windows kept as JSON lists, shared by the counting detectors."""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable
from typing import Any

from detectors.base import State

MAX_ITEMS = 1000  # bounds the state of one entity whatever the threshold


def add(state: State | None, ts: float, item: str, window_s: float) -> State:
    """Add (ts, item) to the window and drop what fell out of it, by event time."""
    entries: list[list[Any]] = list(state["w"]) if state else []
    insort(entries, [ts, item])
    newest = entries[-1][0]
    entries = [e for e in entries if e[0] > newest - window_s][-MAX_ITEMS:]
    return {"w": entries}


def items(state: State | None) -> list[str]:
    """The items currently in the window, oldest first."""
    return [e[1] for e in state["w"]] if state else []


def distinct(state: State | None, value_of: Callable[[str], str] = lambda item: item) -> set[str]:
    """Distinct values among the window's items."""
    return {value_of(e[1]) for e in state["w"]} if state else set()
