"""Engine semantics: dedup, isolation, lateness, configuration errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detectors.base import Detector
from detectors.engine import Engine, EngineHooks
from detectors.registry import DetectorConfig, configure
from detectors.rules import signin_bruteforce_user
from detectors.state import DictStore
from schemas.errors import ConfigError
from tests.factories import signin


def engine_with(params: dict, **kwargs) -> Engine:
    det = signin_bruteforce_user.DETECTOR
    return Engine(detectors=[(det, det.params.model_validate(params))], store=DictStore(), **kwargs)


def burst(n: int, start_s: int = 0, every_s: int = 1, user: str = "bob@acme.example"):
    return [
        signin(
            **{
                "@timestamp": f"2026-11-30T10:{(start_s + i * every_s) // 60:02d}:{(start_s + i * every_s) % 60:02d}+00:00",
                "event.id": f"e{start_s}-{i}",
                "user.name": user,
            }
        )
        for i in range(n)
    ]


def test_findings_within_the_dedup_period_update_one_alert():
    engine = engine_with({"threshold": 3})
    alerts = [a for e in burst(9) for a in engine.process(e)]
    assert [a.alert.count for a in alerts] == [1, 2, 3]
    assert len({a.alert.id for a in alerts}) == 1
    assert alerts[-1].secmon.event_count == 9


def test_a_finding_after_the_dedup_period_opens_a_new_alert():
    engine = engine_with({"threshold": 3})
    first = [a for e in burst(3) for a in engine.process(e)]
    later = signin_bruteforce_user.META.dedup_period.total_seconds()
    events = [
        signin(**{"@timestamp": f"2026-11-30T{11 + int(later // 3600) - 1}:00:0{i}+00:00", "event.id": f"x{i}"})
        for i in range(3)
    ]
    second = [a for e in events for a in engine.process(e)]
    assert first[-1].alert.id != second[-1].alert.id


def test_same_input_gives_same_alert_ids():
    ids = [[a.alert.id for e in burst(6) for a in engine_with({"threshold": 3}).process(e)] for _ in range(2)]
    assert ids[0] == ids[1]


def test_a_raising_detector_is_isolated_and_counted():
    def broken(state, event, params):
        raise RuntimeError("boom")

    det = signin_bruteforce_user.DETECTOR
    bad = Detector(meta=det.meta.model_copy(update={"id": "broken_one"}), params=det.params, step=broken)
    errors = []
    engine = Engine(
        detectors=[(bad, det.params()), (det, det.params(threshold=2))],
        store=DictStore(),
        hooks=EngineHooks(on_error=lambda d, exc, ev: errors.append(d)),
    )
    alerts = [a for e in burst(2) for a in engine.process(e)]
    assert errors == ["broken_one", "broken_one"]
    assert [a.rule.id for a in alerts] == ["signin_bruteforce_user"]


def test_strict_engine_raises():
    def broken(state, event, params):
        raise RuntimeError("boom")

    det = signin_bruteforce_user.DETECTOR
    engine = Engine(
        detectors=[(Detector(meta=det.meta, params=det.params, step=broken), det.params())],
        store=DictStore(),
        strict=True,
    )
    with pytest.raises(RuntimeError):
        engine.process(burst(1)[0])


def test_late_events_are_dropped_and_counted():
    late = []
    engine = engine_with({"threshold": 2}, lateness=timedelta(seconds=30), hooks=EngineHooks(on_late=late.append))
    engine.process(burst(1, start_s=120)[0])
    assert engine.process(burst(1, start_s=0)[0]) == []
    assert late == ["signin_bruteforce_user"]


def test_configuration_errors_are_all_reported_at_once():
    with pytest.raises(ConfigError) as err:
        configure(
            {
                "no_such_detector": DetectorConfig(),
                "signin_bruteforce_ip": DetectorConfig(params={"treshold": 3}),
                "signin_bruteforce_user": DetectorConfig(params={"threshold": 1}),
            }
        )
    text = str(err.value)
    assert "no_such_detector: unknown detector id" in text
    assert "signin_bruteforce_ip.params.treshold" in text
    assert "signin_bruteforce_user.params.threshold" in text


def test_disabled_detectors_do_not_run():
    chosen = configure({"signin_bruteforce_ip": DetectorConfig(enabled=False)})
    ids = [d.meta.id for d, _ in chosen]
    assert "signin_bruteforce_ip" not in ids
    assert "signin_bruteforce_user" in ids
