"""Dead letters: built with their origin and reason, counted by their own stage and code."""

from __future__ import annotations

from types import SimpleNamespace

from pipeline import deadletter, metrics
from pipeline.normalizers.base import RawRecord
from schemas.deadletter import DeadLetter
from schemas.event import Origin


def count(stage: str, code: str) -> float:
    return metrics.DEAD_LETTERS.labels(stage=stage, error_code=code)._value.get()


def test_a_raw_record_keeps_its_origin_bytes_and_full_size():
    record = RawRecord(data=b"x" * 10, origin=Origin(source="sshd", file_id="f", offset=3))
    dead = deadletter.of_record(record, "ship", "too_large", "too long " * 500, size=99)
    assert (dead.origin, dead.original(), dead.original_size, len(dead.reason)) == (record.origin, b"x" * 10, 99, 2000)


def test_a_message_of_our_own_topics_is_located_by_its_position():
    message = SimpleNamespace(topic="secmon-detect", partition=2, offset=41, value=b"{")
    dead = deadletter.of_message(message, "detect", "invalid_shape", "not JSON")
    assert (dead.origin.source, dead.origin.topic, dead.origin.partition, dead.origin.kafka_offset) == (
        "internal",
        "secmon-detect",
        2,
        41,
    )
    assert DeadLetter.model_validate_json(deadletter.encode(dead)) == dead


def test_the_count_follows_the_letter_itself():
    before = count("deliver", "invalid_json"), count("deliver", "internal_error")
    dead = deadletter.of_body(b"{", "invalid_json", "undecodable notify message", 1764496800.0, "secmon-notify", 0)
    assert deadletter.counted(dead) is dead and dead.timestamp.timestamp() == 1764496800.0
    assert (count("deliver", "invalid_json"), count("deliver", "internal_error")) == (before[0] + 1, before[1])
