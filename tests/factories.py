"""Test factories: build events and settings with defaults, so each test states only what it checks."""

from __future__ import annotations

from typing import Any

from detectors.cases import make_event
from detectors.records import AlertSlot, EntityRecord
from schemas.event import Event


def signin(**fields: Any) -> Event:
    """A failed app sign-in at a fixed time, overridable by dotted ECS paths."""
    base = {
        "@timestamp": "2026-11-30T10:00:00+00:00",
        "event.id": "e1",
        "event.dataset": "app.signin",
        "event.outcome": "failure",
        "user.name": "bob@acme.example",
        "source.ip": "203.0.113.9",
    }
    return make_event({**base, **fields})


def entity_record(state: Any = None, alert: str | None = None, variant: str | None = None) -> EntityRecord:
    """An engine record holding `state` and, when `alert` (an id) is given, that alert of `variant`."""
    alerts = {variant: AlertSlot(id=alert, first=0.0, last=0.0)} if alert is not None else {}
    return EntityRecord(watermark=0.0, state=state, alerts=alerts)
