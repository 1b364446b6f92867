"""IsolationForest scores of one vector without scikit-learn's per-call overhead, to the bit.

`IsolationForest.decision_function` on one row validates the input, then walks each of the 150
trees through joblib (a `tree.apply` call per tree): ~5-20 ms per row, which made a cache miss
of the anomaly scorer cost as much as a thousand cached scores. The fitted trees are plain arrays
(children, feature, threshold), so `Forest` walks all of them at once with numpy: one step per
level (a tree is at most ceil(log2(max_samples)) deep). It adds the per-tree depths in tree
order and applies the same formula as scikit-learn (`_compute_score_samples`, float32 input
compared with float64 thresholds), so the score is the same float, not just a close one:
tests/unit/detectors/anomaly/test_forest.py checks it against PyOD on every row it can.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Forest:
    """The trees of a fitted `pyod.models.iforest.IForest`, flattened for scoring one row at a time."""

    def __init__(self, member: Any) -> None:
        from sklearn.ensemble._iforest import _average_path_length  # same constant as scikit-learn's

        forest = member.detector_
        trees = [est.tree_ for est in forest.estimators_]
        sizes = [t.node_count for t in trees]
        offsets = np.cumsum([0] + sizes[:-1])
        self.roots = np.asarray(offsets, dtype=np.intp)
        left = np.concatenate([t.children_left for t in trees]).astype(np.intp)
        right = np.concatenate([t.children_right for t in trees]).astype(np.intp)
        self.leaf = left == -1
        shift = np.repeat(offsets, sizes)
        self.left = np.where(self.leaf, np.arange(len(left)), left + shift)  # a leaf stays where it is
        self.right = np.where(self.leaf, np.arange(len(right)), right + shift)
        feature = np.concatenate([t.feature for t in trees]).astype(np.intp)
        if forest._max_features != forest.n_features_in_:  # trees index their own feature subset
            subsets = np.repeat(np.arange(len(trees)), sizes)
            chosen = [np.asarray(f) for f in forest.estimators_features_]
            feature = np.asarray([chosen[t][f] if f >= 0 else 0 for t, f in zip(subsets, feature, strict=True)])
        self.feature = np.where(self.leaf, 0, feature)
        self.threshold = np.concatenate([t.threshold for t in trees])
        self.path = np.concatenate([np.asarray(p, dtype=float) for p in forest._decision_path_lengths])
        self.average = np.concatenate([np.asarray(a, dtype=float) for a in forest._average_path_length_per_tree])
        self.depth = max(t.max_depth for t in trees)
        self.denominator = len(trees) * float(_average_path_length([forest._max_samples])[0])
        self.offset = float(forest.offset_)

    def score(self, row: tuple[float, ...]) -> float:
        """What `member.decision_function([row])[0]` returns."""
        x = np.asarray(row, dtype=np.float32).astype(np.float64)
        node = self.roots
        for _ in range(self.depth):
            go_left = x[self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        per_tree = self.path[node] + self.average[node] - 1.0
        depth = 0.0
        for d in per_tree.tolist():  # in tree order, as scikit-learn accumulates them
            depth += d
        if self.denominator == 0:
            return 1.0 + self.offset
        score = np.power(2.0, -np.divide(np.asarray([depth]), self.denominator))  # numpy's pow, not libm's
        return float(-(-score[0] - self.offset))  # decision_function, with PyOD's sign
