"""Idle expiry on a worker: the clock waits for the slowest detect partition still delivering.

A worker reads its detect partitions at different paces. When one partition runs a day ahead of
another in event time, the entities of the slower one must not expire before their later events,
already written to the topic, are read: else a user's one `signin_without_mfa` alert splits in two.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from detectors.engine import Engine
from detectors.rules import signin_without_mfa as det
from detectors.state import DictStore
from tests.factories import signin

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
BOB = "bob@acme.example"


class Wall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def without_mfa(at: datetime, user: str, event_id: str):
    return signin(
        **{
            "@timestamp": at.isoformat(),
            "event.id": event_id,
            "event.outcome": "success",
            "user.name": user,
            "secmon.auth.mfa": False,
            "secmon.auth.method": "password",
            "organization.id": "ws-1",
        }
    )


def engine(wall: Wall) -> Engine:
    return Engine(detectors=[(det.DETECTOR, det.DETECTOR.params())], store=DictStore(), wall=wall)


def bob_ahead_of_by_other_partition(eng: Engine) -> str:
    """Bob's first sign-in on partition 0; partition 1 then delivers two days of others' sign-ins."""
    (first,) = eng.process_keyed(det.META.id, BOB, without_mfa(T0, BOB, "b1"), source=0)
    for hour in range(0, 49, 6):
        at = T0 + timedelta(hours=hour)
        eng.process_keyed(det.META.id, f"u{hour}@acme.example", without_mfa(at, f"u{hour}@acme.example", f"o{hour}"), 1)
    return first.alert.id


def test_a_partition_ahead_does_not_expire_the_entities_of_a_slower_one():
    wall = Wall()
    eng = engine(wall)
    first = bob_ahead_of_by_other_partition(eng)
    eng.tick(T0 + timedelta(days=3))  # the worker's wall-time tick
    assert f"{det.META.id}|{BOB}" in set(eng.store.keys())
    (later,) = eng.process_keyed(det.META.id, BOB, without_mfa(T0 + timedelta(hours=1), BOB, "b2"), source=0)
    assert later.alert.id == first and later.alert.count == 2


def test_without_sources_expiry_runs_by_the_latest_event_seen():
    """The embedded runner reads one ordered stream: the latest event time is the clock."""
    eng = Engine(detectors=[(det.DETECTOR, det.DETECTOR.params())], store=DictStore())
    eng.process(without_mfa(T0, BOB, "b1"))
    eng.process(without_mfa(T0 + timedelta(days=2), "eve@acme.example", "e1"))
    eng.tick(T0 + timedelta(days=3))
    assert f"{det.META.id}|{BOB}" not in set(eng.store.keys())


def test_a_silent_partition_stops_holding_the_clock_back():
    """Caught up or empty: after `lateness` of wall time without an event, the others' clock rules."""
    wall = Wall()
    eng = engine(wall)
    bob_ahead_of_by_other_partition(eng)
    wall.now += eng.lateness.total_seconds() - 1
    eng.process_keyed(det.META.id, "eve@acme.example", without_mfa(T0 + timedelta(days=2), "eve@acme.example", "e1"), 1)
    eng.tick(T0 + timedelta(days=3))
    assert f"{det.META.id}|{BOB}" in set(eng.store.keys())  # partition 0 spoke within lateness: still waited for
    wall.now += 2
    eng.tick(T0 + timedelta(days=3))
    assert f"{det.META.id}|{BOB}" not in set(eng.store.keys())


def test_a_rebalance_forgets_the_partitions_clocks():
    wall = Wall()
    eng = engine(wall)
    bob_ahead_of_by_other_partition(eng)
    eng.forget_index()  # partitions moved: their old positions say nothing about the new ones
    eng.tick(T0 + timedelta(days=3))
    assert f"{det.META.id}|{BOB}" not in set(eng.store.keys())
