"""What several detectors derive from the same event, derived once while the engine runs them on it.

A sign-in is read as a `Login` (detectors/identity.py) by about ten detectors, each through its
key function and its step: a dozen identical reads per event, a quarter of the engine's time
before this memo. `Engine.process` opens a scope for its event (`scope(event)`, closed by
`scope(None)`); inside it, a function decorated with `per_event` computes its value for that
event once. Outside it (a test, a detector called directly, the worker's one-detector steps), the
function is simply called. Detectors never change an event, so the value cannot go stale within a
scope; the scope holds the event itself (compared by identity) and its values in one tuple,
replaced in one assignment, so a second thread's scope cannot hand over the values of its event.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from schemas.event import Event

R = TypeVar("R")
_MISSING = object()
_NONE: tuple[Event | None, dict[Any, Any]] = (None, {})
_scope: tuple[Event | None, dict[Any, Any]] = _NONE


def scope(event: Event | None) -> None:
    """Start memoizing for `event` (None: stop, and release the event)."""
    global _scope
    _scope = _NONE if event is None else (event, {})


def per_event(fn: Callable[[Event], R]) -> Callable[[Event], R]:
    """`fn(event)`, computed once per event while the engine's scope is that event's."""

    @wraps(fn)
    def memoized(event: Event) -> R:
        current, values = _scope
        if current is not event:
            return fn(event)
        found = values.get(fn, _MISSING)
        if found is _MISSING:
            found = values[fn] = fn(event)
        return found

    return memoized
