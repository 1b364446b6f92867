"""The per-event memo: one computation per event inside the engine's scope, none kept outside it."""

from __future__ import annotations

from detectors import memo
from detectors.identity import login_of
from schemas.event import Event
from tests.factories import signin


def test_inside_the_scope_of_an_event_a_value_is_computed_once() -> None:
    calls: list[Event] = []

    @memo.per_event
    def counted(event: Event) -> int:
        calls.append(event)
        return len(calls)

    event = signin()
    memo.scope(event)
    try:
        assert [counted(event), counted(event)] == [1, 1]
        assert counted(signin()) == 2  # another event: not the scope's, computed again
    finally:
        memo.scope(None)
    assert counted(event) == 3  # outside any scope nothing is kept
    assert len(calls) == 3


def test_a_login_read_in_the_scope_is_the_one_read_outside_it() -> None:
    event = signin()
    memo.scope(event)
    try:
        inside = login_of(event)
        assert login_of(event) is inside
    finally:
        memo.scope(None)
    assert login_of(event) == inside and login_of(event) is not inside
