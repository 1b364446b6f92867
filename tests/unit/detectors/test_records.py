"""Engine records: the stored form reads back, and records written before versioning still read.

A worker upgraded in place recovers its Faust table from a changelog the old version wrote
(version 1: {"wm", "s", "a", "a:<variant>"} with the alert's severity under "sev"). The upgrade
test replays every detector case in two halves: the first by an engine whose records are then
written in the old layout, the second by a new engine reading them through the worker's store;
the alerts must be those of one uninterrupted run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from detectors.cases import expand_events, load_cases
from detectors.engine import Engine
from detectors.records import RECORD_VERSION, AlertSlot, EntityRecord, RecordError
from detectors.registry import DETECTORS
from detectors.state import DictStore
from pipeline.agents.detect import FaustTableStore
from schemas.alert import Alert

V1 = {
    "wm": 1764496800.0,
    "s": {"n": [1764496800.0]},
    "a": {
        "id": "a-1",
        "first": 1764496700.0,
        "last": 1764496800.0,
        "status": "open",
        "count": 2,
        "events": ["e1", "e2"],
        "event_count": 2,
        "datasets": ["app.signin"],
        "enrichment": ["geoip@x"],
        "sev": "high",
    },
    "a:shadow": {
        "id": "a-2",
        "first": 1764496800.0,
        "last": 1764496800.0,
        "status": "resolved",
        "count": 1,
        "events": ["e2"],
        "event_count": 1,
        "datasets": ["app.signin"],
        "enrichment": [],
        "anomaly": {"score": 2.5},
    },
}


def v1_doc(record: EntityRecord) -> dict[str, Any]:
    """What the engine stored before records were versioned."""
    doc: dict[str, Any] = {"wm": record.watermark, "s": record.state}
    for variant, alert in record.alerts.items():
        slot = alert.to_doc()
        if "severity" in slot:
            slot["sev"] = slot.pop("severity")
        doc["a" if variant is None else f"a:{variant}"] = slot
    return doc


def test_a_version_1_record_reads_field_by_field():
    record = EntityRecord.from_doc(V1)
    assert (record.watermark, record.state) == (1764496800.0, {"n": [1764496800.0]})
    main, shadow = record.alerts[None], record.alerts["shadow"]
    assert (main.id, main.count, main.severity, main.status, main.events) == ("a-1", 2, "high", "open", ["e1", "e2"])
    assert (shadow.id, shadow.status, shadow.severity, shadow.anomaly) == ("a-2", "resolved", None, {"score": 2.5})
    assert record.last_seen() == 1764496800.0


def test_the_stored_form_is_versioned_and_reads_back():
    record = EntityRecord.from_doc(V1)
    doc = record.to_doc()
    assert doc["v"] == RECORD_VERSION and [a.get("variant") for a in doc["alerts"]] == [None, "shadow"]
    assert EntityRecord.from_doc(doc) == record
    assert EntityRecord.from_doc(EntityRecord(state={"x": 1}).to_doc()) == EntityRecord(state={"x": 1})


def test_a_record_of_a_newer_version_is_refused_with_what_to_do():
    with pytest.raises(RecordError, match="upgrade the worker"):
        EntityRecord.from_doc({"v": RECORD_VERSION + 1, "wm": 1.0})


def test_a_slot_without_optional_fields_reads_with_their_defaults():
    slot = AlertSlot.from_doc(
        {
            "id": "a",
            "first": 1.0,
            "last": 2.0,
            "count": 1,
            "events": [],
            "event_count": 0,
            "datasets": [],
            "enrichment": [],
        }
    )
    assert (slot.status, slot.severity, slot.anomaly) == ("open", None, None)


# Detectors whose every result follows from the store: not the timed ones (their clock is the
# runtime's) nor the anomaly ones (their learners live in the configured parameters).
UPGRADABLE = [
    (det_id, case)
    for det_id, det in sorted(DETECTORS.items())
    if det.tick is None and not det_id.startswith("anomaly_")
    for case in load_cases(det_id)
]


def _replay(det_id: str, case: dict[str, Any], split: int | None) -> dict[str, tuple[str, int, str]]:
    detector = DETECTORS[det_id]
    params = detector.params.model_validate(case.get("params", {}))
    events = expand_events(case.get("events", []), case.get("defaults", {}))
    if case.get("in_time_order"):
        events.sort(key=lambda e: e.timestamp)
    lateness = timedelta(minutes=5)
    engine = Engine(detectors=[(detector, params)], store=DictStore(), strict=True, lateness=lateness)
    alerts: dict[str, Alert] = {}
    for i, event in enumerate(events):
        if i == split:  # the upgrade: the old worker's changelog, recovered by the new one
            table = {key: v1_doc(engine.store.get(key)) for key in engine.store.keys()}
            engine = Engine(
                detectors=[(detector, params)], store=FaustTableStore(table), strict=True, lateness=lateness
            )
        for alert in engine.process(event):
            alerts[alert.alert.id] = alert
    return {i: (a.alert.status, a.alert.count, a.alert.severity) for i, a in alerts.items()}


@pytest.mark.parametrize(("det_id", "case"), UPGRADABLE, ids=[f"{d}:{c.get('name', '?')[:40]}" for d, c in UPGRADABLE])
def test_a_worker_upgraded_in_place_keeps_its_state(det_id: str, case: dict[str, Any]):
    events = len(case.get("events", []))
    assert _replay(det_id, case, split=max(1, events // 2)) == _replay(det_id, case, split=None)
