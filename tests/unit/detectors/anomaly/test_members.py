"""The ensemble's members give PyOD's floats exactly: IForest walked by forest.py, HBOS in histogram.py."""

from __future__ import annotations

import numpy as np
import pytest
from pyod.models.hbos import HBOS
from pyod.models.iforest import IForest

from detectors.anomaly.forest import Forest
from detectors.anomaly.histogram import Histograms


def vectors(rng: np.random.Generator, n: int, spread: float = 3.0) -> np.ndarray:
    """Deviation-like vectors: mostly zeros, values at 0.1, one feature constant, some out of range."""
    x = np.round(rng.random((n, 10)) * rng.integers(0, 2, (n, 10)) * spread * rng.random(10), 1)
    x[:, 3] = 0.0
    return x


@pytest.mark.parametrize("n", [20, 300, 5000])
def test_the_forest_walk_gives_iforest_decision_function_bit_for_bit(n):
    rng = np.random.default_rng(n)
    member = IForest(n_estimators=150, max_samples=min(256, n), contamination=0.01, random_state=0).fit(vectors(rng, n))
    forest, rows = Forest(member), vectors(rng, 1500, spread=3.5)
    expected = member.decision_function(rows)
    assert [forest.score(tuple(r)) for r in rows] == expected.tolist()
    assert forest.score(tuple(rows[0])) == member.decision_function(rows[:1])[0]  # one row as the scorer calls it


@pytest.mark.parametrize("n", [20, 300, 5000, 30000])
def test_histograms_give_hbos_scores_bit_for_bit(n):
    rng = np.random.default_rng(n + 1)
    for _ in range(3):
        x = vectors(rng, n)
        hbos, ours = HBOS(n_bins=20, contamination=0.01).fit(x), Histograms(n_bins=20).fit(x)
        assert ours.decision_scores_.tolist() == hbos.decision_scores_.tolist()
        rows = vectors(rng, 2000, spread=3.5) - 0.1 * rng.integers(0, 2, (2000, 10))  # below the first edge too
        assert ours.decision_function(rows).tolist() == hbos.decision_function(rows).tolist()


def test_histograms_refuse_parameters_hbos_refuses():
    with pytest.raises(ValueError, match="n_bins >= 2"):
        Histograms(n_bins=1)
