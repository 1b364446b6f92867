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
    meta=DetectorMeta(
        id="host_silent_test",
        title="Host went silent",
        description="A host sent nothing for too long.",
        version=1,
        severity="medium",
        maturity="stable",
        datasets=("app.signin",),
        state=StateSpec(kind="last_seen", key=("host.name",)),
        dedup_period=timedelta(days=1),
    ),
    params=Params,
    step=step,
    tick=tick,
    seeds=lambda p: list(p.hosts),
)


def engine(**params) -> Engine:
    return Engine(detectors=[(HEARTBEAT, Params(**params))], store=DictStore(), lateness=timedelta(days=1))


def beat(minutes: int, host: str = "web-1"):
    return signin(
        **{
            "@timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "host.name": host,
            "event.id": f"{host}-{minutes}",
        }
    )


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


# --- the deadline index: a tick visits what is due, not the whole state ---------------------------


def deadline(state, params):
    return None if state.get("alerted") else state["last"] + params.max_silence_s


TICKS: list[str] = []


def counted_tick(state, now, params):
    """Reports a silence once (the shipped heartbeat detectors remember what they reported)."""
    TICKS.append(state and state.get("host"))
    if not state or state.get("alerted") or now.timestamp() < deadline(state, params):
        return state, []
    when = datetime.fromtimestamp(deadline(state, params), tz=timezone.utc)
    return {**state, "alerted": True}, [Finding("host silent", Entity(host=Host(name=state["host"])), when)]


def keyed_step(state, event, params):
    state, findings = step(state, event, params)
    return {**state, "host": event.host.name}, findings


INDEXED = Detector(meta=HEARTBEAT.meta, params=Params, step=keyed_step, tick=counted_tick, deadline=deadline)


def indexed_engine(store=None) -> Engine:
    return Engine(
        detectors=[(INDEXED, Params())], store=DictStore() if store is None else store, lateness=timedelta(days=1)
    )


def test_a_tick_visits_only_the_entities_whose_deadline_came():
    eng = indexed_engine()
    eng.tick(T0)
    for host in range(1000):
        eng.process(beat(host % 100, f"h{host}"))  # deadlines spread over 100 minutes
    TICKS.clear()
    eng.tick(T0 + timedelta(minutes=69))  # the hosts of minutes 0..9 are due
    assert len(TICKS) == 100
    TICKS.clear()
    assert eng.tick(T0 + timedelta(minutes=69, seconds=30)) == [] and TICKS == []  # nothing newly due
    assert len(eng.tick(T0 + timedelta(minutes=200))) == 1000 - 100  # the rest, each alerting once
    assert eng.tick(T0 + timedelta(days=1)) == [] and len(TICKS) == 900


def test_the_index_is_rebuilt_from_the_stored_state_after_a_restart():
    store = DictStore()
    first = indexed_engine(store)
    first.tick(T0)
    first.process(beat(0, "web-1"))
    restarted = indexed_engine(store)  # e.g. a worker whose table was recovered from its changelog
    alerts = restarted.tick(T0 + timedelta(hours=2))
    assert [a.alert.first_seen for a in alerts] == [T0 + timedelta(hours=1)]


def test_a_changed_store_is_reindexed_after_forget_index():
    store = DictStore()
    eng = indexed_engine(store)
    eng.tick(T0)
    eng.process(beat(0, "web-1"))
    other = indexed_engine(DictStore())
    other.process(beat(0, "web-2"))
    store.put("host_silent_test|web-2", other.store.get("host_silent_test|web-2"))  # recovered underneath
    store.delete("host_silent_test|web-1")  # e.g. purged
    eng.forget_index()
    assert [a.alert.dedup_key for a in eng.tick(T0 + timedelta(hours=2))] == ["web-2"]


def test_idle_entities_expire_after_their_ttl_and_the_alert_dedup_period():
    from detectors.rules import signin_bruteforce_user as det

    params = det.DETECTOR.params(threshold=3)
    eng = Engine(detectors=[(det.DETECTOR, params)], store=DictStore(), lateness=timedelta(minutes=5))
    clock = EventClock(eng)
    for i in range(2):  # two failures: a window, no alert
        event = signin(**{"@timestamp": (T0 + timedelta(seconds=i)).isoformat(), "event.id": f"f{i}"})
        eng.process(event)
        clock.observe(event.timestamp)
    kept = max(params.window_seconds, det.META.dedup_period.total_seconds()) + 300
    later = signin(
        **{
            "@timestamp": (T0 + timedelta(seconds=kept - 5)).isoformat(),
            "user.name": "eve@acme.example",
            "event.id": "x1",
        }
    )
    eng.process(later)
    clock.observe(later.timestamp)
    assert "signin_bruteforce_user|bob@acme.example" in list(eng.store.keys())
    last = signin(
        **{
            "@timestamp": (T0 + timedelta(seconds=kept + 120)).isoformat(),
            "user.name": "eve@acme.example",
            "event.id": "x2",
        }
    )
    eng.process(last)
    clock.observe(last.timestamp)
    assert list(eng.store.keys()) == ["signin_bruteforce_user|eve@acme.example"]


def test_expiry_follows_event_time_not_the_wall_clock():
    """A worker replaying old logs ticks on wall time: state must not expire before the events say so."""
    from detectors.rules import signin_without_mfa as det

    eng = Engine(detectors=[(det.DETECTOR, det.DETECTOR.params())], store=DictStore())
    eng.process(
        signin(
            **{
                "event.outcome": "success",
                "secmon.auth.mfa": False,
                "secmon.auth.method": "password",
                "organization.id": "ws-1",
            }
        )
    )
    assert len(eng.store) == 1
    eng.tick(datetime.now(timezone.utc) + timedelta(days=400))
    assert len(eng.store) == 1


def test_deadlines_of_the_timed_detectors_never_come_after_what_their_tick_finds():
    """Each shipped timed detector states a deadline; its case files pass with ticks only when due
    (test_cases), and every timed detector has one (a missing one means a tick at every tick)."""
    from detectors.registry import ALL

    timed = [d.meta.id for d in ALL if d.tick is not None]
    assert timed and all(d.deadline is not None for d in ALL if d.tick is not None), timed
