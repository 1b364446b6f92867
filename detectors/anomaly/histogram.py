"""HBOS (histogram-based outlier score) in numpy: PyOD's `HBOS` with a fixed bin count, to the bit.

PyOD computes HBOS scores in a numba function that is compiled on first use, in every process:
3-12 s (two cores shared) before an embedded run that learns its models can score anything,
more than the rest of a month's replay costs. `Histograms` fits the same per-feature
histograms (`np.histogram(..., density=True)`) and scores as PyOD's `_calculate_outlier_scores`
does (log2 of density + alpha; a value below the first or above the last edge takes the edge
bin within `tol` of a bin width, else the lowest score), summed per row in the same array
layout, so `decision_scores_` and `decision_function` return the same floats as `HBOS(n_bins=..)`:
tests/unit/detectors/anomaly/test_members.py compares them on random and real data.
"""

from __future__ import annotations

import math

import numpy as np


class Histograms:
    """A fitted HBOS: `hist_` and `bin_edges_` of shape (n_bins [+1], n_features), as PyOD keeps them."""

    def __init__(self, n_bins: int = 20, alpha: float = 0.1, tol: float = 0.5) -> None:
        if n_bins < 2 or not 0 <= alpha <= 1 or not 0 <= tol <= 1:
            raise ValueError(f"HBOS wants n_bins >= 2 and alpha, tol in [0, 1]; got {n_bins}, {alpha}, {tol}")
        self.n_bins, self.alpha, self.tol = n_bins, alpha, tol

    def fit(self, x: np.ndarray) -> Histograms:
        """Histograms of every feature of `x` (rows = training vectors); sets `decision_scores_`."""
        x = np.asarray(x, dtype=np.float64)
        features = x.shape[1]
        self.hist_ = np.zeros([self.n_bins, features])
        self.bin_edges_ = np.zeros([self.n_bins + 1, features])
        for i in range(features):
            self.hist_[:, i], self.bin_edges_[:, i] = np.histogram(x[:, i], bins=self.n_bins, density=True)
        # per bin and feature (column i is PyOD's out_score_i): the C library's log2, as in PyOD's numba
        # code; numpy's own log2 is a ulp off on some values
        self._log = np.asarray([[math.log2(v) for v in row] for row in (self.hist_ + self.alpha).tolist()])
        self.decision_scores_ = self.decision_function(x)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Outlier score per row of `x` (larger = more unusual)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros(shape=x.shape)
        edges, log, n = self.bin_edges_, self._log, self.n_bins
        for i in range(x.shape[1]):
            col, scores = x[:, i], log[:, i]
            bins = np.digitize(col, edges[:, i], right=True)
            low_ok = (edges[0, i] - col) <= (edges[1, i] - edges[0, i]) * self.tol
            high_ok = (col - edges[-1, i]) <= (edges[-1, i] - edges[-2, i]) * self.tol
            inside = scores[np.clip(bins - 1, 0, n - 1)]
            lowest = scores.min()
            out[:, i] = np.where(
                bins == 0,
                np.where(low_ok, scores[0], lowest),
                np.where(bins == n + 1, np.where(high_ok, scores[n - 1], lowest), inside),
            )
        result: np.ndarray = np.sum(out, axis=1) * -1  # PyOD: invert_order of the summed log densities
        return result
