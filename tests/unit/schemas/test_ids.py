"""Deterministic ids: same origin, same id; different origin, different id."""

from __future__ import annotations

from schemas.event import Origin
from schemas.ids import event_id, record_key


def test_file_origin_ids_ignore_content_and_time():
    a = Origin(source="app_signin", file="/var/log/a", file_id="f1", offset=10)
    assert record_key(a, b"x") == record_key(a.model_copy(update={"file": "/var/log/a.1"}), b"y")
    assert record_key(a, b"x") != record_key(a.model_copy(update={"offset": 11}), b"x")


def test_kafka_origin_then_content():
    k = Origin(source="app_signin", topic="t", partition=0, kafka_offset=5)
    assert record_key(k, b"x") != record_key(k.model_copy(update={"kafka_offset": 6}), b"x")
    bare = Origin(source="app_signin")
    assert record_key(bare, b"x") == record_key(bare, b"x") != record_key(bare, b"y")


def test_events_of_one_record_get_distinct_ids():
    key = record_key(Origin(source="sshd", file_id="f", offset=0), b"")
    assert len({event_id(key, i) for i in range(5)}) == 5
