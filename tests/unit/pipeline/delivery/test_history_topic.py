"""Notification history goes through the history topic: the deliver agent turns each bulk action
into a HistoryEntry, bundled per batch, the index agent turns the bundles back into the same
actions (same daily index, same `_id`: a replay overwrites), and `secmon topics` creates the topic."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from pipeline.delivery import history
from pipeline.kafka.topics import TopicNames
from schemas.delivery import HistoryBundle
from schemas.notification import NotificationRecord

CREATED = datetime(2026, 12, 6, 23, 59, 58, tzinfo=timezone.utc)


def records() -> list[NotificationRecord]:
    common = {"receiver": "hook", "receiver_kind": "webhook", "route": "0", "group_key": "0|hook|[]"}
    retry = NotificationRecord.model_validate(
        {
            "@timestamp": CREATED + timedelta(seconds=5),  # the next day: still the index of the creation day
            "kind": "attempt",
            "outcome": "retry",
            "notification_id": "n1",
            "attempt": 2,
            "status_code": 503,
            "latency_ms": 12.5,
            "error": "HTTP 503",
            "next_attempt_at": CREATED + timedelta(seconds=65),
            "alert_ids": ["a1", "a2"],
            "alert_counts": [1, 4],
            "rule_ids": ["r1", "r1"],
            **common,
        }
    )
    silenced = NotificationRecord.model_validate(
        {"@timestamp": CREATED, "kind": "silenced", "outcome": "silenced", "silence_id": "s1", "alert_ids": ["a3"]}
        | common
    )
    return [retry, silenced]


def test_an_entry_on_the_topic_is_written_as_the_action_the_deliver_agent_made():
    retry, silenced = records()
    actions = [history.action("t", retry, day=CREATED), history.action("t", silenced)]

    bundles = [HistoryBundle.model_validate_json(m) for m in history.messages(actions)]

    assert len(bundles) == 1
    assert history.entry_actions(bundles) == actions
    assert [a["_index"] for a in actions] == ["t-notifications-2026.12.06"] * 2
    assert actions[0]["_id"] == "n1-2"


def test_a_batch_travels_in_bounded_bundles_in_order(monkeypatch):
    retry, silenced = records()
    actions = [history.action("t", r) for r in (retry, silenced) * 50]
    one = len(history.message(actions[0]))
    monkeypatch.setattr(history, "MAX_BUNDLE_BYTES", one * 10)

    messages = history.messages(actions)

    assert len(messages) >= 10
    assert all(len(m) <= one * 12 for m in messages)
    assert history.entry_actions([HistoryBundle.model_validate_json(m) for m in messages]) == actions
    assert history.messages([]) == []


def test_an_unbundled_entry_of_an_older_worker_reads_as_a_bundle_of_one():
    (retry, _) = records()
    action = history.action("t", retry)

    bundle = HistoryBundle.model_validate_json(history.message(action))

    assert history.entry_actions([bundle]) == [action]


def test_a_malformed_entry_fails_validation_and_is_dead_lettered_by_the_index_agent():
    (retry, _) = records()
    (body,) = history.messages([history.action("t", retry)])
    body = body.replace(b'"outcome":"retry"', b'"outcome":"maybe"')
    assert b'"maybe"' in body
    with pytest.raises(ValidationError):
        HistoryBundle.model_validate_json(body)


def test_secmon_topics_creates_the_history_topic():
    names = TopicNames("p")
    assert names.history == "p-history"
    assert names.history in names.all()
