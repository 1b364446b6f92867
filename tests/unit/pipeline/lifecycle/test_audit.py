"""Control events secmon emits: the normalizer reads them, and a re-send gets the same event id."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from pipeline.kafka.codec import origin_header, raw_record
from pipeline.lifecycle.audit import ControlSink, control_event, control_origin
from pipeline.normalizers.base import ParseOptions
from pipeline.normalizers.control import parse
from pipeline.settings import KafkaSettings

NOW = datetime(2026, 11, 30, 2, 41, 17, tzinfo=timezone.utc)


def normalized(event: dict):
    """The event the worker makes of a control event sent the way ControlSink sends it."""
    header = [origin_header(control_origin(event))]
    record = raw_record("control", json.dumps(event).encode(), header, "p-raw-control", 0, 7)
    (out,) = parse(record, ParseOptions())
    return out


def test_backup_succeeded_reads_as_a_successful_backup_with_its_counts():
    event = control_event(
        "backup",
        "succeeded",
        now=NOW,
        job_id="backup-secmon-2026.11.30-024117",
        backup_id="secmon-2026.11.30-024117",
        user="ops",
        details={"documents": 1200, "indices": 7, "snapshot": "secmon-2026.11.30-024117"},
    )
    assert event == {
        "timestamp": "2026-11-30T02:41:17Z",
        "kind": "backup",
        "status": "succeeded",
        "job_id": "backup-secmon-2026.11.30-024117",
        "user": "ops",
        "actor": "secmon-lifecycle",
        "backup_id": "secmon-2026.11.30-024117",
        "details": {"documents": 1200, "indices": 7, "snapshot": "secmon-2026.11.30-024117"},
    }
    ev = normalized(event)
    assert ev.event.action == "backup_succeeded" and ev.event.outcome == "success"
    assert ev.secmon.control.backup_id == "secmon-2026.11.30-024117"
    assert ev.timestamp == NOW


@pytest.mark.parametrize(
    ("kind", "status", "fields"),
    [
        ("backup", "failed", {"reason": "snapshot ended PARTIAL"}),
        (
            "backup",
            "deleted",
            {
                "backup_id": "s1",
                "details": {"indices": 7, "snapshot": "s1", "taken_at": datetime(2026, 11, 16, 2, tzinfo=timezone.utc)},
            },
        ),
        ("restore_test", "succeeded", {"backup_id": "s1", "details": {"documents": 5, "indices": 1}}),
        ("restore_test", "failed", {"reason": "no successful secmon snapshot"}),
        ("deletion", "requested", {"workspace": "ws-b", "requested_at": datetime(2026, 11, 29, tzinfo=timezone.utc)}),
        (
            "deletion",
            "completed",
            {
                "workspace": "ws-b",
                "requested_at": datetime(2026, 11, 29, tzinfo=timezone.utc),
                "details": {"documents": 9000, "indices": 6},
            },
        ),
        ("legal_hold", "opened", {"incident_id": "INC-7", "reason": "litigation"}),
        ("legal_hold", "closed", {"incident_id": "INC-7"}),
    ],
)
def test_every_event_the_lifecycle_emits_is_valid_for_the_normalizer(kind, status, fields):
    ev = normalized(control_event(kind, status, now=NOW, job_id="job-1", **fields))
    assert ev.event.action == f"{kind}_{status}"
    assert ev.secmon.control.job_id == "job-1"


def test_a_resent_event_gets_the_same_id_and_another_status_another_id():
    started = control_event("backup", "started", now=NOW, job_id="job-1")
    again = control_event("backup", "started", now=NOW, job_id="job-1")
    done = control_event("backup", "succeeded", now=NOW, job_id="job-1")
    assert normalized(started).event.id == normalized(again).event.id != normalized(done).event.id


def test_unknown_kind_or_status_fails_where_the_event_is_built():
    with pytest.raises(ValidationError):
        control_event("backup", "completed_ish", now=NOW, job_id="j")
    with pytest.raises(ValidationError):
        control_event("snapshot", "started", now=NOW, job_id="j")


def test_long_reasons_are_cut_to_what_the_normalizer_accepts():
    event = control_event("backup", "failed", now=NOW, job_id="j", reason="x" * 20_000)
    assert len(event["reason"]) == 4000
    assert normalized(event).secmon.control.reason == "x" * 4000


def test_unreachable_kafka_is_reported_not_raised():
    sink = ControlSink(KafkaSettings(bootstrap="127.0.0.1:9"), timeout_s=0.5)
    started = time.monotonic()
    assert sink.send(control_event("backup", "started", now=NOW, job_id="j")) is False
    assert sink.send(control_event("backup", "failed", now=NOW, job_id="j")) is False  # asks Kafka only once
    assert time.monotonic() - started < 5
    sink.close()
