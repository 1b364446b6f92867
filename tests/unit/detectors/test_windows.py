"""Sliding windows and the counts kept beside them: after any sequence of attempts (late ones,
copies of one event, items falling out by time or by the MAX_ITEMS cap) the window is the one the
former whole-list rebuild gave, the counts a detector keeps per event equal a recount of its
window, and a state written before counts were kept (a window alone, as an older worker stored
it) carries on with the same figures. An event's copies have its time: an event id is one event."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import windows
from detectors.identity import Login
from detectors.rules import _attempts, ssh_user_enumeration
from detectors.rules._attempts import CountingParams

PARAMS = CountingParams(window_seconds=120)  # windows of up to ~25 attempts: small ones and counted ones
KINDS = ("f", "i", "x", "d", "p", "k", "c")

# (event, session, kind, client, user): few values of each, so copies and shared sessions abound;
# the event's time follows from its id (out of order: late attempts are drawn too)
attempt = st.tuples(
    st.integers(0, 40),
    st.sampled_from(["p1", "p2", "p3", "c9", ""]),
    st.sampled_from(KINDS),
    st.sampled_from(["203.0.113.5", "198.51.100.7", None]),
    st.sampled_from(["root", "admin", "a b", None]),
)


def at(event: int) -> float:
    return float(event * 37 % 200)


def login(event: int, session: str, kind: str, client: str | None, user: str | None, ts: float | None = None) -> Login:
    return Login(
        source="ssh",
        scope="bastion-1",
        user=user,
        success=False,
        ts=at(event) if ts is None else ts,
        event_id=f"e{event}",
        ip=client,
        geo=None,
        as_=None,
        device=None,
        mfa=None,
        host="bastion-1",
        session=session or f"e{event}",
        kind=kind,
        client=client,
    )


def rebuilt(window: list, ts: float, item: str, window_s: float) -> list:
    """The window as windows.add built it before `slide`: the whole list filtered per item."""
    entries = sorted([*window, [ts, item]])
    return [e for e in entries if e[0] > entries[-1][0] - window_s][-windows.MAX_ITEMS :]


def recount(window: list) -> tuple[int, int]:
    items = [item for _, item in window]
    return _attempts.attempts(items), len(_attempts.clients(items))


@settings(max_examples=300, deadline=None)
@given(st.lists(attempt, max_size=80), st.integers(0, 79))
def test_attempt_counts_kept_per_event_equal_a_recount_of_the_window(attempts, restart_at):
    state = None
    for n, fields in enumerate(attempts):
        if n == restart_at and state is not None:
            state = {"w": state["w"]}  # an older worker's record: the window without its counts
        one = login(*fields)
        held = state["w"] if state else []
        # counts once kept stay; they start when the window, this attempt added, reaches COUNTED_FROM
        counting = bool(state and "n" in state) or len(held) + 1 >= _attempts.COUNTED_FROM
        state = _attempts.add(state, one, PARAMS)
        assert state["w"] == rebuilt(held, one.ts, _attempts.item(one), PARAMS.window_seconds)
        assert ("n" in state) == counting
        assert (_attempts.counted(state), _attempts.client_count(state)) == recount(state["w"])


def test_the_cap_drops_the_oldest_items_and_their_counts():
    state = None
    for i in range(windows.MAX_ITEMS + 50):
        state = _attempts.add(state, login(i, "", "f", f"10.0.{i // 250}.{i % 250}", "root", ts=0.0), PARAMS)
    assert len(state["w"]) == windows.MAX_ITEMS
    assert (_attempts.counted(state), _attempts.client_count(state)) == recount(state["w"]) == (1000, 1000)


def test_a_state_handed_in_is_left_as_it_was():
    state = None
    for i in range(_attempts.COUNTED_FROM):
        state = _attempts.add(state, login(100 + i, "p1", "f", "203.0.113.5", "root", ts=float(i)), PARAMS)
    assert "n" in state
    kept = {"w": [list(e) for e in state["w"]], "n": {k: v if k == "t" else dict(v) for k, v in state["n"].items()}}
    _attempts.add(state, login(2, "p1", "i", "203.0.113.5", "root"), PARAMS)
    _attempts.add(state, login(3, "p2", "f", "203.0.113.6", "root", ts=900.0), PARAMS)
    assert state == kept


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(["h1", "h2"]), st.sampled_from(["root", "a b", ""])), max_size=60
    )
)
def test_enumeration_counts_kept_per_event_equal_a_recount_of_the_window(failures):
    state = None
    for n, (event, host, user) in enumerate(failures):
        if n % 7 == 3 and state is not None:
            state = {"w": state["w"]}
        item = f"e{event} {host} {user}"
        expected = rebuilt(state["w"] if state else [], at(event), item, 60)
        state = ssh_user_enumeration._add(state, at(event), item, 60)
        items = windows.items(state)
        assert state["w"] == expected
        if "n" in state:
            assert set(state["n"]["u"]) == {i.split(" ", 2)[2] for i in items}
            assert set(state["n"]["h"]) == {i.split(" ", 2)[1] for i in items}
        else:
            assert len(state["w"]) < _attempts.COUNTED_FROM
