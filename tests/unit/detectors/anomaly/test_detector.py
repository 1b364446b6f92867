"""The anomaly step with installed models: live alerts, shadow alerts beside them, trained as it scores."""

from __future__ import annotations

import pytest

from detectors.anomaly.kinds import install, stop_learning
from detectors.anomaly.train import Replay
from detectors.cases import expand_events, load_cases
from detectors.engine import Engine
from detectors.registry import DETECTORS
from detectors.state import DictStore

DET = DETECTORS["anomaly_signin"]


@pytest.fixture(scope="module")
def takeover_case():
    case = load_cases("anomaly_signin")[0]  # a month of routine, then a takeover
    events = expand_events(case["events"], case["defaults"])
    return events[:-1], events[-1]


def _model(history, seed):
    from detectors.anomaly.signin import SIGNIN

    replay = Replay(SIGNIN, DET.entity_key, min_history=5, min_samples=40)
    for event in history:
        replay.add(event)
    return replay.fit("test", seed=seed)


def _engine():
    params = DET.params()
    return Engine(detectors=[(DET, params)], store=DictStore(), strict=True)


def test_a_shadow_model_alerts_beside_the_live_one_as_experimental_with_its_own_id(takeover_case):
    history, takeover = takeover_case
    engine = _engine()
    install(engine.detectors, {"signin": _model(history, 0)}, {"signin": _model(history, 0)})
    for event in history:
        engine.process(event)
    alerts = engine.process(takeover)
    by_maturity = {a.rule.maturity: a for a in alerts}
    assert set(by_maturity) == {"stable", "experimental"}
    live, shadow = by_maturity["stable"], by_maturity["experimental"]
    assert live.alert.id != shadow.alert.id
    assert shadow.alert.dedup_key == live.alert.dedup_key + "#shadow"
    assert live.alert.severity == "high" and live.secmon.anomaly.features


def test_a_model_trained_on_history_scores_the_history_alike_online(takeover_case):
    """Training vectors are computed as the detector computes them: no history event of the
    routine scores above the paging threshold of the model trained on it."""
    history, takeover = takeover_case
    engine = _engine()
    install(engine.detectors, {"signin": _model(history, 0)})
    raised = [a for e in history for a in engine.process(e) if a.alert.severity == "high"]
    assert raised == []
    assert [a.alert.severity for a in engine.process(takeover)] == ["high"]


def test_without_a_model_and_without_learning_nothing_is_scored(takeover_case):
    history, takeover = takeover_case
    engine = _engine()
    stop_learning(engine.detectors)  # the worker before its first model
    assert [a for e in [*history, takeover] for a in engine.process(e)] == []
