"""Timed detectors: ticks on event time, seeds, resolution, and the same result in every order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from detectors.clock import EventClock
from detectors.engine import Engine
from detectors.state import DictStore
from schemas.event import Host
from tests.factories import signin

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_silence_s: int = 3600
    hosts: list[str] = []


def step(state, event, params):
    ts = event.timestamp.timestamp()
    finding = Finding("host reports again", Entity(host=Host(name=event.host.name)), event.timestamp, resolve=True)
    return {"last": ts}, [finding]


def tick(state, now, params):
    last = (state or {}).get("last", T0.timestamp())
    deadline = last + params.max_silence_s
    if now.timestamp() < deadline:
        return state, []
    when = datetime.fromtimestamp(deadline, tz=timezone.utc)
    return state, [Finding("host silent", Entity(), when)]


HEARTBEAT = Detector(
    meta=DetectorMeta(id="host_silent_test", title="Host went silent", description="A host sent nothing for too long.",
                      version=1, severity="medium", maturity="stable", datasets=("app.signin",),
                      state=StateSpec(kind="last_seen", key=("host.name",)), dedup_period=timedelta(days=1)),
    params=Params, step=step, tick=tick, seeds=lambda p: list(p.hosts))


def engine(**params) -> Engine:
    return Engine(detectors=[(HEARTBEAT, Params(**params))], store=DictStore(), lateness=timedelta(days=1))


def beat(minutes: int, host: str = "web-1"):
    return signin(**{"@timestamp": (T0 + timedelta(minutes=minutes)).isoformat(), "host.name": host,
                     "event.id": f"{host}-{minutes}"})


def test_silence_raises_an_alert_dated_at_the_deadline_and_a_new_beat_resolves_it():
    eng = engine()
    clock = EventClock(eng, every=timedelta(minutes=1))
    alerts = []
    for minutes in (0, 10, 200):  # 10 -> 200: silent for more than an hour
        event = beat(minutes)
        alerts += clock.observe(event.timestamp) + eng.process(event)
    opened = [a for a in alerts if a.alert.status == "open"]
    resolved = [a for a in alerts if a.alert.status == "resolved"]
    assert len(opened) == 1 and opened[0].alert.first_seen == T0 + timedelta(minutes=70)
    assert len(resolved) == 1 and resolved[0].alert.id == opened[0].alert.id


def test_seeded_entities_alert_without_ever_sending_anything():
    eng = engine(hosts=["db-1"])
    alerts = eng.tick(T0 + timedelta(hours=2))
    assert [a.alert.dedup_key for a in alerts] == ["db-1"]
    assert eng.tick(T0 + timedelta(hours=3))[0].alert.count == 2  # still silent: the same alert grows


def test_no_tick_before_the_deadline():
    eng = engine()
    eng.process(beat(0))
    assert eng.tick(T0 + timedelta(minutes=59)) == []


def test_a_resolution_without_an_open_alert_emits_nothing():
    eng = engine()
    assert eng.process(beat(0)) == []
