"""backup_purge_overdue: what the case files cannot show, its state stays bounded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from detectors.cases import make_event
from detectors.rules import backup_purge_overdue
from detectors.rules.backup_purge_overdue import Params, step
from schemas.event import Event

T0 = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)
LIMIT = 20  # instead of 1,000 snapshots and workspaces: the same code, a fast test


@pytest.fixture(autouse=True)
def small_bounds(monkeypatch):
    monkeypatch.setattr(backup_purge_overdue, "MAX_SNAPSHOTS", LIMIT)
    monkeypatch.setattr(backup_purge_overdue, "MAX_WORKSPACES", LIMIT)


def backup(at: datetime, name: str) -> Event:
    """`backup succeeded` naming snapshot `name`."""
    return make_event(
        {
            "@timestamp": at.isoformat(),
            "event.dataset": "control.events",
            "event.id": name,
            "secmon.control.kind": "backup",
            "secmon.control.status": "succeeded",
            "secmon.control.job_id": f"backup-{name}",
            "secmon.control.backup_id": name,
        }
    )


def deletion(at: datetime, workspace: str) -> Event:
    """`deletion completed` of `workspace`."""
    return make_event(
        {
            "@timestamp": at.isoformat(),
            "event.dataset": "control.events",
            "event.id": workspace,
            "secmon.control.kind": "deletion",
            "secmon.control.status": "completed",
            "secmon.control.job_id": f"del-{workspace}",
            "organization.id": workspace,
        }
    )


def test_snapshots_never_reported_deleted_and_many_deletions_keep_the_state_bounded():
    state, params = None, Params(max_age=timedelta(days=10_000))  # no alert: only the state is under test
    for day in range(LIMIT + 50):
        state, _ = step(state, backup(T0 + timedelta(days=day), f"s-{day}"), params)
        state, _ = step(state, deletion(T0 + timedelta(days=day, hours=1), f"ws-{day}"), params)
    assert len(state["snaps"]) == LIMIT and "s-0" not in state["snaps"] and f"s-{LIMIT + 49}" in state["snaps"]
    assert len(state["ws"]) == LIMIT and "ws-0" not in state["ws"] and f"ws-{LIMIT + 49}" in state["ws"]


def test_a_snapshot_dropped_from_the_state_is_then_estimated_not_forgotten():
    state, params = None, Params()
    state, _ = step(state, backup(T0, "s-0"), params)
    state, _ = step(state, deletion(T0 + timedelta(hours=1), "ws-a"), params)
    for i in range(1, LIMIT + 1):  # one more than fits: s-0, the one holding ws-a, is dropped
        state, _ = step(state, backup(T0 + timedelta(hours=2, seconds=i), f"s-{i}"), params)
    assert "s-0" not in state["snaps"] and state["ws"]["ws-a"]["b"] == T0.timestamp()


def test_a_long_snapshot_name_is_kept_short_and_still_matched_when_deleted():
    from detectors.rules.backup_purge_overdue import MAX_NAME, _deleted, _taken

    state = {"snaps": {}, "ws": {}, "holds": {}}
    long_a, long_b = "s" * 1000 + "a", "s" * 1000 + "b"
    _taken(state, long_a, 1.0)
    _taken(state, long_b, 2.0)
    assert len(state["snaps"]) == 2 and all(len(k) == MAX_NAME for k in state["snaps"])
    _deleted(state, long_a, 3.0)
    assert list(state["snaps"].values()) == [2.0]
