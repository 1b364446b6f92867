"""The events agent indexes each event as the events topic carries it (its bytes, not encoded again):
that is the very document a decode and re-encode would write, for every golden fixture's events."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from elasticsearch.helpers import expand_action
from elasticsearch.serializer import OrjsonSerializer

from pipeline.kafka.codec import dumps
from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import BulkSink, event_index
from schemas.event import Event
from tests.unit.pipeline.normalizers.test_golden import golden_inputs, outcome


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_an_event_as_the_topic_carries_it_is_the_document_a_re_encoding_would_index(path: Path) -> None:
    docs = [doc for result in outcome(path) for doc in result.get("events", [])]
    for doc in docs:
        value = dumps(doc)  # what the normalize agent sends to the events topic
        event = Event.model_validate_json(value)
        assert orjson.loads(value) == event.to_doc(), "the topic's JSON is the event's own document"


def test_the_bulk_body_holds_the_encoded_document_unchanged() -> None:
    from tests.factories import signin

    event = signin(**{"event.id": "e7"})
    raw = dumps(event.to_doc())
    sink = BulkSink(es=None, cfg=EsSettings(index_prefix="p"))  # type: ignore[arg-type]  # builds actions only
    (action,) = sink.encoded_event_actions([(event, raw)])
    header, body = expand_action(action)
    assert header == {"create": {"_index": event_index("p", event), "_id": "e7"}}
    assert OrjsonSerializer().dumps(body) is raw, "bytes go into the bulk body as they are"
