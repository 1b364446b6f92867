"""The scoring model: a PyOD ensemble (IForest + HBOS) over deviation features, calibrated to a budget.

PyOD has no incremental fit, so a model is trained on a batch of feature vectors (history) and
then scores one event at a time (IForest's trees walked by forest.py, HBOS computed by histogram.py:
PyOD's floats, without its per-call overhead and numba compile). Each member's raw score is standardised against its training
scores (median 0, 99th percentile 1) and the ensemble is their mean. HBOS adds up how rare each
feature is, so several unusual things together rank above any one of them; IForest adds what
the features do jointly. A third member is the sum of the per-feature surprises the explanation
is made of (HBOS with exact tails): unlike PyOD's HBOS it also scores a value no training vector
had (HBOS folds it into its edge bin), which matters when a feature never varied in training.
On the labelled month of bench.signin_month (38k scorable sign-ins, 30 takeovers), the top 40
scores held 8 takeovers for LODA, 18 for IForest, 29 for HBOS and 30 for this ensemble. Thresholds are quantiles
of the training scores for an alert budget (alerts per 1,000 scored events), recomputed from
the kept sample whenever the budget changes, never pyod's `contamination` default.

Explanations do not depend on the members: a feature's share of the explanation is its
surprise (-log10 of how often training vectors were at least that extreme), so "country new"
weighs a lot where new countries are rare and little where everybody travels.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.anomaly.behaviour import Peers
from detectors.anomaly.forest import Forest, grow
from detectors.anomaly.histogram import Histograms  # PyOD's HBOS to the bit, without its numba JIT
from schemas.alert import AnomalyFeature

BINS = np.linspace(0.0, 3.0, 61)  # every feature lies in [0, 3]; tails are read off these bins
EDGES = BINS.tolist()  # the same floats, for bisect on one value
STRONG_TAIL = 0.01  # a feature at least this rare in training is a strong signal
MAX_SCORE_SAMPLE = 20_000
DECIMALS = 1  # features are compared at 0.1: a month of sign-ins gives ~1.4k distinct vectors, so the
# cache answers ~97 % of the scores (a miss costs ~0.5 ms, HBOS mostly: IForest is walked by forest.py)
CACHE_LIMIT = 200_000


@dataclass
class AnomalyModel:
    """A fitted ensemble for one behaviour kind, with what explains and calibrates it."""

    kind: str
    features: tuple[str, ...]
    members: list[Any]  # IForest (forest.py's Forest) and HBOS (Histograms); the surprise sum is computed here
    centre: list[float]
    scale: list[float]
    score_sample: np.ndarray  # sorted ensemble scores of the training vectors (calibration)
    tails: np.ndarray  # per feature: training vectors at or above each bin edge
    samples: int
    peers: Peers = field(default_factory=Peers)
    trained: dict[str, Any] = field(default_factory=dict)  # when, on what, with which parameters
    version: str = "unsaved"
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    _scorers: list[Any] | None = field(default=None, repr=False)  # per member: one row -> raw score

    def _member_scorers(self) -> list[Any]:
        """Per member, a function of one row giving its `decision_function` value (IForest's trees walked by
        forest.py, HBOS read off its histograms by histogram.py: bit-identical and 30-100x cheaper than
        PyOD's call on one row)."""
        scorers: list[Any] | None = getattr(self, "_scorers", None)  # absent from files saved before it existed
        if scorers is None:

            def scorer(member: Any) -> Any:
                if isinstance(member, (Forest, Histograms)):
                    return member.score
                if type(member).__name__ == "IForest":  # a model file of an earlier secmon
                    return Forest.of_iforest(member).score
                return lambda row: float(member.decision_function(np.asarray([row], dtype=float))[0])

            scorers = self._scorers = [scorer(m) for m in self.members]
        return scorers

    def score(self, vector: tuple[float, ...]) -> float:
        """Ensemble score of one event (0 ~ typical, 1 ~ the training set's 99th percentile)."""
        key = quantize(vector)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()  # thresholds (float keys) are recomputed on demand
            raw = [score(key) for score in self._member_scorers()] + [sum(self.surprise(key))]
            cached = self._cache[key] = round(_combine(raw, self.centre, self.scale), 4)
        return cached

    def threshold(self, per_1k: float) -> float:
        """The score above which `per_1k` of 1,000 training events would alert."""
        found = self._cache.get(per_1k)
        if found is None:
            q = min(1.0, max(0.0, 1.0 - per_1k / 1000.0))
            found = self._cache[per_1k] = round(float(np.quantile(self.score_sample, q)), 4)
        return found

    def _at_least(self, i: int, value: float) -> int:
        """Training vectors whose feature `i` was in the bin of `value` or above."""
        return int(self.tails[i][min(len(BINS) - 2, bisect_right(EDGES, value) - 1)])  # np.searchsorted(side="right")

    def surprise(self, vector: tuple[float, ...]) -> list[float]:
        """Per feature: -log10 of the share of training vectors at least as extreme (0 for usual values)."""
        out = []
        for i, value in enumerate(quantize(vector)):
            share = (self._at_least(i, value) + 1) / (self.samples + 1)
            out.append(0.0 if share > 0.5 else -math.log10(share))
        return out

    def strong(self, vector: tuple[float, ...]) -> set[str]:
        """The features whose value at most STRONG_TAIL of the training vectors reached (ignoring zeros;
        on a small training set, at most two of them)."""
        most = max(STRONG_TAIL * self.samples, 2)
        return {
            self.features[i]
            for i, value in enumerate(quantize(vector))
            if value > 0 and self._at_least(i, value) <= most
        }

    def explain(
        self, vector: tuple[float, ...], facts: dict[str, tuple[str, str]], top: int = 5
    ) -> list[AnomalyFeature]:
        """The features that explain the score, most first, with the value seen and the usual."""
        surprise = self.surprise(vector)
        total = sum(surprise) or 1.0
        ranked = sorted((s, i) for i, s in enumerate(surprise) if s > 0)[::-1][:top]
        return [
            AnomalyFeature(
                name=self.features[i],
                value=facts[self.features[i]][0][:256],
                usual=facts[self.features[i]][1][:256],
                contribution=round(s / total, 3),
            )
            for s, i in ranked
        ]


def fit(
    kind: str, features: tuple[str, ...], vectors: np.ndarray, peers: Peers, trained: dict[str, Any], seed: int = 0
) -> AnomalyModel:
    """Train the ensemble on `vectors` (one row per scored event, in `features` order)."""
    if len(vectors) < 20:
        raise ValueError(f"{len(vectors)} training vectors for {kind}: need at least 20 (more history)")
    x = np.round(np.asarray(vectors, dtype=float), DECIMALS)
    forest, forest_scores = _forest(x, seed)
    hbos = Histograms(n_bins=20).fit(x)
    members: list[Any] = [forest, hbos]
    raw = [forest_scores, np.asarray(hbos.decision_scores_, dtype=float)]
    tails = _tails(x)
    raw.append(_surprise_sums(x, tails))
    centre = [float(np.median(r)) for r in raw]
    floors = [1e-9] * len(members) + [1.0]  # surprise is in decades: one is the least spread that means anything
    scale = [max(f, float(np.quantile(r, 0.99)) - c) for r, c, f in zip(raw, centre, floors, strict=True)]
    scores = np.mean([(r - c) / s for r, c, s in zip(raw, centre, scale, strict=True)], axis=0)
    sample = np.sort(
        scores
        if len(scores) <= MAX_SCORE_SAMPLE
        else np.random.default_rng(seed).choice(scores, MAX_SCORE_SAMPLE, replace=False)
    )
    return AnomalyModel(
        kind=kind,
        features=features,
        members=members,
        centre=centre,
        scale=scale,
        score_sample=np.round(sample, 4),
        tails=tails,
        samples=len(x),
        peers=peers,
        trained=trained,
    )


def _forest(x: np.ndarray, seed: int) -> tuple[Forest, np.ndarray]:
    """PyOD's `IForest(n_estimators=150, max_samples=min(256, n), contamination=0.01)` fitted on `x`, and its
    training scores: grown by forest.py (the same trees, without importing scikit-learn), or by PyOD on a
    float tie."""
    trees, samples, contamination = 150, min(256, len(x)), 0.01
    grown = grow(x, trees, samples, contamination, seed)
    if grown is not None:
        return grown
    from pyod.models.iforest import IForest  # imported here: pyod and scikit-learn take seconds

    member = IForest(n_estimators=trees, max_samples=samples, contamination=contamination, random_state=seed).fit(x)
    return Forest.of_iforest(member), np.asarray(member.decision_scores_, dtype=float)


def quantize(vector: tuple[float, ...]) -> tuple[float, ...]:
    """The vector as the model sees it (training and scoring alike): `round(v, DECIMALS)` of each value,
    read from a table of the values already rounded (round() costs ~0.4 us a value; features take few
    distinct values, so the table stays small and answers nearly every time)."""
    try:
        return tuple(map(_ROUNDED.__getitem__, vector))
    except KeyError:
        out = tuple([round(v, DECIMALS) for v in vector])
        if len(_ROUNDED) < ROUNDED_LIMIT:
            _ROUNDED.update(zip(vector, out, strict=True))
        return out


ROUNDED_LIMIT = 65_536
_ROUNDED: dict[float, float] = {}


def _tails(x: np.ndarray) -> np.ndarray:
    """For each feature and bin: how many rows fall in that bin or a higher one."""
    counts = np.stack([np.histogram(np.clip(col, 0, 3), bins=BINS)[0] for col in x.T])
    return np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]


def _surprise_sums(x: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """AnomalyModel.surprise summed per row, for every training row at once."""
    bins = np.clip(np.searchsorted(BINS, x, side="right") - 1, 0, len(BINS) - 2)
    at_least = np.take_along_axis(tails, bins.T, axis=1).T
    share = (at_least + 1) / (len(x) + 1)
    surprise: np.ndarray = np.where(share > 0.5, 0.0, -np.log10(share)).sum(axis=1)
    return surprise


def _combine(raw: list[float], centre: list[float], scale: list[float]) -> float:
    return sum((r - c) / s for r, c, s in zip(raw, centre, scale, strict=True)) / len(raw)
