"""Deadline and heartbeat helpers, and the timed detectors' promises the case files cannot show:
the same alerts whatever the tick cadence, seeded entities started by the engine, JSON state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from detectors.cases import expand_events, load_cases
from detectors.clock import EventClock
from detectors.engine import Engine
from detectors.records import EntityRecord
from detectors.registry import DETECTORS
from detectors.rules._clock import Duration, beat, check, job_name, span
from detectors.state import DictStore

TIMED = sorted(det_id for det_id, det in DETECTORS.items() if det.tick is not None)
T0 = 1_796_000_000.0


class Holder(BaseModel):
    """A model with one Duration field, as a detector's params have."""

    value: Duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900), ("26h", 93600), ("90d", 7776000), ("30s", 30), (3600, 3600), ("P1D", 86400)]
)
def test_durations_read_as_written_in_the_configuration(text, seconds):
    assert Holder(value=text).value == timedelta(seconds=seconds)


def test_a_bad_duration_says_what_was_wrong():
    with pytest.raises(ValidationError, match="'a fortnight' is not a duration: write a number and a unit"):
        Holder(value="a fortnight")


@pytest.mark.parametrize(
    ("seconds", "text"), [(93600, "26h"), (86400, "24h"), (7776000, "90d"), (900, "15m"), (7, "7s")]
)
def test_spans_print_like_parameters(seconds, text):
    assert span(seconds) == text


@pytest.mark.parametrize(
    ("run", "job"),
    [
        ("bk-20261130-0200", "bk"),
        ("backup-secmon-2026.11.30-020000", "backup-secmon"),
        ("restore-test-20261130T101500Z", "restore-test"),
        ("rt-2026-48", "rt"),
        ("s3-eu-nightly", "s3-eu-nightly"),
        ("20261130", "20261130"),
    ],
)
def test_a_job_is_its_run_id_without_the_run_specific_tail(run, job):
    assert job_name(run) == job


def test_a_missed_deadline_is_reported_once_and_a_success_clears_it():
    state, missed = check(None, T0, 100)
    assert missed is None and state == {"since": T0}
    state, missed = check(state, T0 + 150, 100)
    assert missed == T0 + 100
    state, missed = check(state, T0 + 500, 100)
    assert missed is None  # still late: the same deadline is not reported again
    state, cleared = beat(state, T0 + 600)
    assert cleared and state["last"] == T0 + 600 and "alerted" not in state


def test_an_old_success_replayed_late_does_not_move_the_clock_back():
    state, _ = beat(check(None, T0, 100)[0], T0 + 50)
    state, cleared = beat(state, T0 + 10)
    assert state["last"] == T0 + 50 and not cleared


def run(det_id: str, case: dict, tick_every: str) -> dict[str, tuple]:
    """The final alerts of a case with a tick every `tick_every` of event time; the states must be JSON."""
    det = DETECTORS[det_id]
    engine = Engine(
        detectors=[(det, det.params.model_validate(case.get("params", {})))],
        store=DictStore(),
        strict=True,
        lateness=timedelta(days=400),
    )
    clock = EventClock(engine, every=Holder(value=tick_every).value)
    alerts = {}
    for event in expand_events(case.get("events", []), case.get("defaults", {})):
        for alert in engine.process(event) + clock.observe(event.timestamp):
            alerts[alert.alert.id] = alert
    until = datetime.fromisoformat(case["until"].replace("Z", "+00:00")) if "until" in case else None
    for alert in clock.finish(until):
        alerts[alert.alert.id] = alert
    for key in engine.store.keys():
        record = engine.store.get(key)
        doc = record.to_doc()
        assert json.loads(json.dumps(doc)) == doc, f"{key}: state is not plain JSON"
        assert EntityRecord.from_doc(doc) == record, f"{key}: the stored form does not read back"
    return {a.alert.id: (a.alert.status, a.alert.first_seen) for a in alerts.values()}


CADENCES = [(det_id, case) for det_id in TIMED for case in load_cases(det_id) if case.get("tick_every")]


@pytest.mark.parametrize(("det_id", "case"), CADENCES, ids=[f"{d}:{c['name'][:50]}" for d, c in CADENCES])
def test_a_finer_clock_raises_the_same_alerts_dated_the_same(det_id, case):
    """Replaying with a tick every minute or every day gives the same alerts: findings are dated at
    their deadline, and a step catches a deadline the clock did not tick through."""
    coarse = run(det_id, case, case["tick_every"])
    assert run(det_id, case, "1m") == coarse
    assert run(det_id, case, "1d") == coarse


def test_a_seeded_entity_is_started_by_the_engine_with_its_own_key():
    det = DETECTORS["backup_missing"]
    engine = Engine(detectors=[(det, det.params(jobs=["es-nightly"]))], store=DictStore())
    start = datetime(2026, 11, 30, tzinfo=timezone.utc)
    assert engine.tick(start) == []
    alerts = engine.tick(start + timedelta(hours=27))
    assert [(a.alert.dedup_key, a.secmon.resource.id) for a in alerts] == [("es-nightly", "es-nightly")]
    assert alerts[0].alert.first_seen == start + timedelta(hours=26)


def test_an_entity_that_is_not_watched_gets_no_state_from_a_tick():
    det = DETECTORS["source_silent"]
    engine = Engine(detectors=[(det, det.params(expected={"cloudtrail": "30m"}))], store=DictStore())
    engine.process_keyed(
        "source_silent",
        "web_access",
        expand_events(
            [{"@timestamp": "2026-11-30T08:00:00Z", "event.module": "web_access", "event.dataset": "web.access"}], {}
        )[0],
    )
    engine.tick(datetime(2026, 12, 30, tzinfo=timezone.utc))
    assert engine.store.get("source_silent|web_access").state is None
    assert engine.store.get("source_silent|cloudtrail").state["source"] == "cloudtrail"
