"""The detect topic's messages: each kind reads as its model, in the form the topic has always had."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from pydantic import ValidationError

from schemas.detect import DETECT_MESSAGE, EventMessage, TickMessage, event_message, tick_message
from schemas.lifecycle import ForgetFanout, ForgetRequest
from tests.factories import signin

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def wire(doc: dict) -> dict:
    return orjson.loads(orjson.dumps(doc))


def test_an_event_message_reads_back_as_the_event_it_carries():
    event = signin()
    message = DETECT_MESSAGE.validate_python(wire(event_message(["signin_bruteforce_user"], "bob", event.to_doc())))
    assert isinstance(message, EventMessage)
    assert (message.detectors, message.key, message.event) == (["signin_bruteforce_user"], "bob", event)


def test_a_tick_message_keeps_its_instant():
    message = DETECT_MESSAGE.validate_python(wire(tick_message(["backup_missing"], "nightly", NOW)))
    assert isinstance(message, TickMessage) and message.tick == NOW and message.key == "nightly"


def test_a_forget_fan_out_is_told_apart_by_its_field():
    request = ForgetRequest(receipt_id="del-1", workspace="ws-b", requested_at=NOW)
    fan = ForgetFanout(forget=request, partitions=6)
    assert DETECT_MESSAGE.validate_python(wire(fan.to_doc())) == fan


def test_what_is_none_of_the_three_is_refused():
    for doc in (
        {"detectors": ["x"], "key": "k"},
        {"tick": "soon", "detectors": [], "key": "k"},
        {"forget": {}},
        {"detectors": ["x"], "key": "k", "event": signin().to_doc(), "extra": 1},
    ):
        with pytest.raises(ValidationError):
            DETECT_MESSAGE.validate_python(doc)
