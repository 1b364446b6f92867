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
from bisect import bisect_left

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

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the scoring table `score` builds, so a model file's bytes (its version) do not
        depend on whether it scored before it was saved."""
        return {k: v for k, v in self.__dict__.items() if k != "_table"}

    def score(self, row: tuple[float, ...]) -> float:
        """`decision_function([row])[0]` without its ~60 numpy calls on one row (~30x cheaper): the same
        bin choice (`np.digitize(right=True)` is `bisect_left` on the edges) and float operations
        per feature, then numpy's own sum over the row's feature scores."""
        table = self.__dict__.get("_table")
        if table is None:  # per feature: edges, log densities, lowest, edge tolerances (built on first use)
            edges, log = self.bin_edges_.T.tolist(), self._log.T.tolist()
            table = self._table = [
                (e, s, min(s), (e[1] - e[0]) * self.tol, (e[-1] - e[-2]) * self.tol)
                for e, s in zip(edges, log, strict=True)
            ]
        n, out = self.n_bins, []
        for value, (edges, scores, lowest, low_tol, high_tol) in zip(row, table, strict=True):
            at = bisect_left(edges, value)
            if at == 0:
                out.append(scores[0] if edges[0] - value <= low_tol else lowest)
            elif at == n + 1:
                out.append(scores[n - 1] if value - edges[-1] <= high_tol else lowest)
            else:
                out.append(scores[at - 1])
        return float(np.sum(np.asarray([out]), axis=1)[0] * -1)

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
