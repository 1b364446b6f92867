"""The ensemble's members give PyOD's floats exactly: IForest grown and walked by forest.py, HBOS in histogram.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pyod.models.hbos import HBOS
from pyod.models.iforest import IForest

from detectors.anomaly import forest as forest_module
from detectors.anomaly.forest import Forest, grow
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
    forest, rows = Forest.of_iforest(member), vectors(rng, 1500, spread=3.5)
    expected = member.decision_function(rows)
    assert [forest.score(tuple(r)) for r in rows] == expected.tolist()
    assert forest.score(tuple(rows[0])) == member.decision_function(rows[:1])[0]  # one row as the scorer calls it


# 20 and 257 rows: reservoir sampling; 300 and 5000: a permutation; 26000: tracking selection (ratio < 0.01)
@pytest.mark.parametrize("n", [20, 257, 300, 5000, 26000])
def test_grown_trees_are_pyods_node_for_node_with_the_same_offset_and_training_scores(n):
    rng = np.random.default_rng(n + 2)
    x = vectors(rng, n)
    if n > 20_000:
        x = np.round(x, 0)  # many duplicate rows, as quantized features give (and a quick PyOD fit)
    params = {"n_estimators": 150, "max_samples": min(256, n), "contamination": 0.01}
    grown = grow(x, seed=0, **params)
    assert grown is not None
    forest, scores = grown
    member = IForest(random_state=0, **params).fit(x)
    expected = Forest.of_iforest(member)
    for name in ("roots", "left", "right", "feature", "threshold", "path", "average"):
        assert np.array_equal(getattr(forest, name), getattr(expected, name)), name
    assert (forest.depth, forest.denominator, forest.offset) == (expected.depth, expected.denominator, expected.offset)
    assert scores.tolist() == member.decision_scores_.tolist()


def test_a_float_tie_is_left_to_pyod_and_gives_the_same_model(monkeypatch):
    from detectors.anomaly.behaviour import Peers
    from detectors.anomaly.model import fit

    x = vectors(np.random.default_rng(5), 400)
    grown = fit("signin", tuple(f"f{i}" for i in range(10)), x, Peers(), {})
    monkeypatch.setattr(forest_module, "TIE", 10.0)  # every node a tie: PyOD fits
    assert grow(x, 150, 256, 0.01, 0) is None
    fitted = fit("signin", tuple(f"f{i}" for i in range(10)), x, Peers(), {})
    assert [fitted.score(tuple(r)) for r in x[:200]] == [grown.score(tuple(r)) for r in x[:200]]


def test_learning_a_model_does_not_import_scikit_learn():
    code = (
        "import sys, numpy as np\n"
        "from detectors.anomaly.behaviour import Peers\n"
        "from detectors.anomaly.model import fit\n"
        "m = fit('signin', ('a', 'b', 'c'), np.random.default_rng(1).random((500, 3)), Peers(), {})\n"
        "m.score((0.1, 0.2, 2.5))\n"
        "print(sorted(k for k in ('sklearn', 'pyod', 'scipy') if k in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[4]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("n", [20, 300, 5000, 30000])
def test_histograms_give_hbos_scores_bit_for_bit(n):
    rng = np.random.default_rng(n + 1)
    for _ in range(3):
        x = vectors(rng, n)
        hbos, ours = HBOS(n_bins=20, contamination=0.01).fit(x), Histograms(n_bins=20).fit(x)
        assert ours.decision_scores_.tolist() == hbos.decision_scores_.tolist()
        rows = vectors(rng, 2000, spread=3.5) - 0.1 * rng.integers(0, 2, (2000, 10))  # below the first edge too
        assert ours.decision_function(rows).tolist() == hbos.decision_function(rows).tolist()
        assert [ours.score(tuple(row)) for row in rows.tolist()] == hbos.decision_function(rows).tolist()


def test_histograms_refuse_parameters_hbos_refuses():
    with pytest.raises(ValueError, match="n_bins >= 2"):
        Histograms(n_bins=1)
