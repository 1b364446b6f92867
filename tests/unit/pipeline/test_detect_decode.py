"""The detect agent validates an event once per batch: routes sent it once per entity key."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from pipeline.agents.detect import _decode
from pipeline.kafka.codec import dumps
from schemas.detect import EventMessage, TickMessage, event_message, tick_message
from tests.factories import signin


def test_the_same_event_under_two_keys_is_validated_once_and_read_the_same() -> None:
    doc, seen = signin().to_doc(), {}
    first = _decode(dumps(event_message(["a"], "k1", doc)), seen)
    second = _decode(dumps(event_message(["b", "c"], "k2", doc)), seen)
    assert isinstance(first, EventMessage) and isinstance(second, EventMessage)
    assert second.event is first.event
    assert (second.detectors, second.key) == (["b", "c"], "k2")
    assert second == EventMessage.model_validate(event_message(["b", "c"], "k2", doc)), "as if validated alone"


def test_an_event_id_with_other_content_is_validated_on_its_own() -> None:
    doc, seen = signin().to_doc(), {}
    first = _decode(dumps(event_message(["a"], "k1", doc)), seen)
    other = _decode(dumps(event_message(["a"], "k2", {**doc, "message": "another text"})), seen)
    assert isinstance(other, EventMessage) and other.event is not first.event
    assert other.event.message == "another text"
    with pytest.raises(ValidationError):  # a bad copy is refused, not served from the first one
        _decode(dumps(event_message(["a"], "k3", {**doc, "@timestamp": "not a time"})), seen)


def test_ticks_and_other_messages_decode_as_before() -> None:
    at = datetime(2026, 11, 30, 10, tzinfo=timezone.utc)
    tick = _decode(dumps(tick_message(["a"], "k1", at)), {})
    assert isinstance(tick, TickMessage) and tick.tick == at
    with pytest.raises(ValueError):
        _decode(b'{"detectors": ["a"], "key": "k"}', {})
    with pytest.raises(ValueError):
        _decode(b"not json", {})
