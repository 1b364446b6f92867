"""The access-log bench indexes documents the events template and the service's rows accept."""

from __future__ import annotations

from itertools import islice

from bench.access_log import docs
from pipeline.service.query import row
from schemas.event import Event


def test_bench_documents_are_valid_events_and_rows() -> None:
    sample = list(islice(docs("p", 1000, users=50), 200))
    assert len({d["_id"] for d in sample}) == 200
    for d in sample:
        event = Event.model_validate(d["_source"])
        assert d["_index"] == f"p-events-app.signin-{event.timestamp:%Y.%m.%d}"
        assert row(d["_source"]).user_id == event.user.id
