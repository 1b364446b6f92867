"""The ensemble: calibrated to a budget, explained by rare features, deterministic for its data."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.anomaly.behaviour import Peers
from detectors.anomaly.model import fit

FEATURES = ("hour_rarity", "device_new", "asn_new", "country_new")


@pytest.fixture(scope="module")
def training():
    rng = np.random.default_rng(11)
    x = np.zeros((5000, 4))
    x[:, 0] = np.clip(rng.normal(0.3, 0.15, 5000), 0, 3)
    x[rng.random(5000) < 0.03, 1] = 1.0  # new phones
    trips = rng.random(5000) < 0.005
    x[trips, 2] = x[trips, 3] = 1.0  # a trip: new network and country together
    return x


def test_the_threshold_meets_the_budget_on_the_training_set(training):
    model = fit("signin", FEATURES, training, Peers(), {})
    scores = np.array([model.score(tuple(v)) for v in training[:2000]])
    for per_1k in (5.0, 20.0):
        assert (scores > model.threshold(per_1k)).mean() * 1000 <= per_1k * 1.5 + 1


def test_a_takeover_scores_above_a_trip_and_is_explained_by_its_rare_features(training):
    model = fit("signin", FEATURES, training, Peers(), {})
    trip, takeover = (0.3, 0.0, 1.0, 1.0), (2.5, 1.0, 1.0, 1.0)
    assert model.score(takeover) > model.score(trip) > model.score((0.3, 0.0, 0.0, 0.0))
    facts = {f: (f"seen {f}", f"usual {f}") for f in FEATURES}
    explained = model.explain(takeover, facts)
    assert explained[0].name == "hour_rarity"  # never seen at 2.5 in training: the rarest
    assert {f.name for f in explained} == set(FEATURES)
    assert abs(sum(f.contribution for f in explained) - 1.0) < 0.01
    assert model.strong(takeover) == {"hour_rarity", "asn_new", "country_new"}  # new phones are common (3 %)
    assert model.strong(trip) == {"asn_new", "country_new"}


def test_training_is_deterministic(training):
    a, b = (fit("signin", FEATURES, training, Peers(), {}) for _ in range(2))
    assert a.score((1.0, 1.0, 1.0, 0.0)) == b.score((1.0, 1.0, 1.0, 0.0))


def test_too_little_history_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="need at least 20"):
        fit("signin", FEATURES, np.zeros((5, 4)), Peers(), {})
