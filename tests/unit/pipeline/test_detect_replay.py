"""The detect agent's table store: a message replayed after a crash is not applied twice.

A worker killed between its changelog writes and its offset commit replays the messages since the
commit; the entries they already reached must not count them again (a brute-force window would
reach its threshold early and raise an alert with another id than the uninterrupted run)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from detectors.engine import Engine
from detectors.records import EntityRecord
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
    """What the store uses of a Faust table: its data (this dict)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.data = self


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
    assert table == {}, "held until the batch's alerts are sent"
    records = store.commit()
    written = {orjson.loads(key): (partition, orjson.loads(value)["at"]) for partition, key, value in records}
    assert len(records) == len(written) == 2, "one changelog write per key and batch"
    assert all(table[k]["at"] == at for k, (_, at) in written.items()), "the table holds what the changelog gets"
    assert sorted(written.values()) == [(1, [1, 11]), (2, [2, 4])], "each in its own partition, latest position"
    store.begin(1, 10)
    assert store.applied(f"{DETECTOR}|{engine.routes(first)[0][1]}"), "a replay of the batch is skipped"


def test_changelog_records_are_what_fausts_json_schema_writes_and_deletions_are_tombstones() -> None:
    from faust.serializers import codecs

    table = Table({"gone|bob": {"v": 2, "at": [0, 1]}})
    store = FaustTableStore(table)
    store.begin(0, 5)
    store.put("signin_new_asn|élodie@acme.example", EntityRecord(watermark=1.0))
    store.delete("gone|bob")
    records = store.commit()
    json = codecs.get_codec("json")
    assert [(p, k) for p, k, _ in records] == [
        (0, json.dumps("signin_new_asn|élodie@acme.example")),  # compaction goes by these bytes
        (0, json.dumps("gone|bob")),
    ]
    assert json.loads(records[0][2])["at"] == [0, 5] and records[1][2] == b""
    assert "gone|bob" not in table
