"""The detect agent's table store: a message replayed after a crash is not applied twice.

A worker killed between its changelog writes and its offset commit replays the messages since the
commit; the entries they already reached must not count them again (a brute-force window would
reach its threshold early and raise an alert with another id than the uninterrupted run)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from detectors.engine import Engine
from detectors.registry import DETECTORS
from pipeline.agents.detect import FaustTableStore
from tests.factories import signin

DETECTOR = "signin_bruteforce_ip"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def _events(n: int) -> list:
    return [
        signin(**{"@timestamp": (T0 + timedelta(seconds=5 * i)).isoformat(), "event.id": f"e{i}"}) for i in range(n)
    ]


class Table(dict):
    """What the store uses of a Faust table: its data (this dict) and its changelog sends."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.data = self
        self.changelog: list[tuple[int, str, Any]] = []

    def send_changelog(self, partition: int, key: str, value: Any, value_serializer: str | None = None) -> None:
        self.changelog.append((partition, key, value))


def _engine(table: Table) -> tuple[Engine, FaustTableStore]:
    store = FaustTableStore(table)
    det = DETECTORS[DETECTOR]
    return Engine(detectors=[(det, det.params())], store=store, strict=True), store


def _apply(engine: Engine, store: FaustTableStore, offset: int, event) -> list[str]:
    """As the agent does for one detect message: begin, detect, (alerts sent), commit."""
    ((det_id, key),) = engine.routes(event)
    store.begin(0, offset)
    alerts = [] if store.applied(f"{det_id}|{key}") else engine.process_keyed(det_id, key, event)
    store.commit()
    return [f"{a.alert.id}:{a.alert.count}" for a in alerts]


def _run(events: list, crash_at: int | None = None, committed: int = 0) -> list[str]:
    table = Table()
    engine, store = _engine(table)
    out: list[str] = []
    offset = 0
    while offset < len(events):
        out += _apply(engine, store, offset, events[offset])
        offset += 1
        if offset == crash_at:  # killed: a new worker recovers the table, resumes at the commit
            engine, store = _engine(Table(table))
            offset, crash_at = committed, None
    return out


def test_a_replay_after_a_crash_raises_the_same_alerts() -> None:
    events = _events(14)
    straight = _run(events)
    assert straight, "the burst must alert"
    replayed = _run(events, crash_at=9, committed=4)  # offsets 4..8 are applied twice
    assert sorted(set(replayed)) == sorted(set(straight))


def test_writes_are_held_until_commit() -> None:
    table = Table()
    engine, store = _engine(table)
    event = _events(1)[0]
    ((det_id, key),) = engine.routes(event)
    store.begin(3, 7)
    engine.process_keyed(det_id, key, event)
    assert table == {}, "nothing reaches the changelog before the message's alerts are sent"
    store.commit()
    assert table[f"{det_id}|{key}"]["at"] == [3, 7]
    store.begin(3, 7)
    assert store.applied(f"{det_id}|{key}")
    store.begin(3, 8)
    assert not store.applied(f"{det_id}|{key}")
    store.begin(2, 1)  # another partition's offsets say nothing about this entry
    assert not store.applied(f"{det_id}|{key}")


def test_a_batch_writes_each_key_once_in_the_partition_of_its_messages() -> None:
    table = Table()
    engine, store = _engine(table)
    first, second = _events(2)
    other = signin(**{"@timestamp": T0.isoformat(), "event.id": "x1", "source.ip": "203.0.113.99"})
    for partition, offset, event in ((1, 10, first), (2, 4, other), (1, 11, second)):
        ((det_id, key),) = engine.routes(event)
        store.begin(partition, offset)
        engine.process_keyed(det_id, key, event)
    assert table.changelog == [], "held until the batch's alerts are sent"
    store.commit()
    written = {key: (partition, value["at"]) for partition, key, value in table.changelog}
    assert len(table.changelog) == len(written) == 2, "one changelog write per key and batch"
    assert sorted(written.values()) == [(1, [1, 11]), (2, [2, 4])], "each in its own partition, latest position"
    store.begin(1, 10)
    assert store.applied(f"{DETECTOR}|{engine.routes(first)[0][1]}"), "a replay of the batch is skipped"
