"""The first-seen state: learning period, LRU bound, late events."""

from __future__ import annotations

from detectors.rules._first_seen import DAY_SECONDS, FirstSeenParams, observe

PARAMS = FirstSeenParams(learning_days=14, max_values=3)
T0 = 1_700_000_000.0


def test_values_are_learned_silently_during_the_learning_period():
    state, new = observe(None, T0, "DE", PARAMS)
    assert not new
    state, new = observe(state, T0 + 13 * DAY_SECONDS, "FR", PARAMS)
    assert not new
    state, new = observe(state, T0 + 15 * DAY_SECONDS, "BR", PARAMS)
    assert new
    state, new = observe(state, T0 + 16 * DAY_SECONDS, "BR", PARAMS)
    assert not new
    assert state == {"since": T0, "seen": ["DE", "FR", "BR"]}


def test_the_set_keeps_the_most_recently_seen_values_only():
    state, _ = observe(None, T0, "a", PARAMS)
    for i, value in enumerate(["b", "c", "a", "d"]):
        state, _ = observe(state, T0 + i, value, PARAMS)
    assert state["seen"] == ["c", "a", "d"]  # b was least recently seen
    _, new = observe(state, T0 + 20 * DAY_SECONDS, "b", PARAMS)
    assert new


def test_a_late_event_moves_the_start_of_learning_back():
    state, _ = observe(None, T0, "DE", PARAMS)
    state, _ = observe(state, T0 - 3600, "FR", PARAMS)
    assert state["since"] == T0 - 3600
