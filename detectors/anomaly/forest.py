"""IsolationForest without scikit-learn on the scoring path (and, mostly, on the fitting path), to the bit.

Scoring: `IsolationForest.decision_function` on one row validates the input, then walks each of
the 150 trees through joblib (a `tree.apply` call per tree): ~5-20 ms per row. The fitted trees
are plain arrays (children, feature, threshold), so `Forest` walks all of them at once with numpy:
one step per level (a tree is at most ceil(log2(max_samples)) deep). It adds the per-tree depths
in tree order and applies the same formula as scikit-learn (`_compute_score_samples`, float32
input compared with float64 thresholds), so the score is the same float, not just a close one.

Fitting: importing scikit-learn (it imports scipy.stats) costs ~3 CPU-seconds, more than the rest
of a month's replay, in every process that learns its models. `grow` builds the same trees as
`pyod.models.iforest.IForest(n_estimators, max_samples, contamination, random_state=seed)` on
the same data: the same draws of numpy's legacy `RandomState` for the bagging (seeds, sample
indices), then per tree the splitter's own xorshift generator (`our_rand_r`), drawing features
Fisher-Yates style with the splitter's constant-feature bookkeeping and a uniform threshold
between the node's min and max, depth first, left child first, as scikit-learn's
`DepthFirstTreeBuilder` with `RandomSplitter` does (scikit-learn 1.9). The only float-rounding
questions scikit-learn decides differently from us are its leaf tests on the (random) regression
target: impurity <= eps and improvement + eps < 0. Where our figure is within 1e-15 of either,
`grow` returns None and the caller fits with PyOD instead (on random targets: rare).
tests/unit/detectors/anomaly/test_members.py checks trees, offsets and scores against PyOD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_INT = np.iinfo(np.int32).max  # scikit-learn's bagging seeds and estimators' random_state
RAND_R_MAX = 0x7FFFFFFF  # the splitter's generator (sklearn/utils/_random.pxd)
FEATURE_THRESHOLD = np.float32(1e-7)  # a feature whose max - min is at most this is constant in a node
TIE = 1e-15  # our impurity figures this close to scikit-learn's leaf tests (eps = 2.2e-16): let PyOD decide
LEAF = -1


@dataclass
class Forest:
    """Isolation trees flattened for scoring: every tree's nodes in one set of arrays (a leaf loops to itself)."""

    roots: np.ndarray  # index of each tree's root
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    path: np.ndarray  # per node: its depth (root 1), as `compute_node_depths`
    average: np.ndarray  # per node: the average path length of its training samples
    depth: int
    denominator: float
    offset: float

    @classmethod
    def of_iforest(cls, member: Any) -> Forest:
        """The trees of a fitted `pyod.models.iforest.IForest`."""
        forest = member.detector_
        trees = [est.tree_ for est in forest.estimators_]
        feature = [np.asarray(t.feature, dtype=np.intp) for t in trees]
        if forest._max_features != forest.n_features_in_:  # trees index their own feature subset
            feature = [
                np.asarray(c)[np.maximum(f, 0)] for c, f in zip(forest.estimators_features_, feature, strict=True)
            ]
        return cls.of_trees(
            [np.asarray(t.children_left, dtype=np.intp) for t in trees],
            [np.asarray(t.children_right, dtype=np.intp) for t in trees],
            feature,
            [np.asarray(t.threshold, dtype=np.float64) for t in trees],
            [np.asarray(p, dtype=float) for p in forest._decision_path_lengths],
            [np.asarray(a, dtype=float) for a in forest._average_path_length_per_tree],
            int(forest._max_samples),
            float(forest.offset_),
        )

    @classmethod
    def of_trees(
        cls,
        lefts: list[np.ndarray],
        rights: list[np.ndarray],
        features: list[np.ndarray],
        thresholds: list[np.ndarray],
        paths: list[np.ndarray],
        averages: list[np.ndarray],
        max_samples: int,
        offset: float,
    ) -> Forest:
        """A forest of trees given per tree as node arrays (children -1 at leaves)."""
        sizes = [len(t) for t in lefts]
        offsets = np.cumsum([0] + sizes[:-1])
        left, right = np.concatenate(lefts).astype(np.intp), np.concatenate(rights).astype(np.intp)
        leaf = left == LEAF
        shift = np.repeat(offsets, sizes)
        own = np.arange(len(left))
        return cls(
            roots=np.asarray(offsets, dtype=np.intp),
            left=np.where(leaf, own, left + shift),
            right=np.where(leaf, own, right + shift),
            feature=np.where(leaf, 0, np.concatenate(features)).astype(np.intp),
            threshold=np.concatenate(thresholds).astype(np.float64),
            path=np.concatenate(paths).astype(np.float64),
            average=np.concatenate(averages).astype(np.float64),
            depth=max(_max_depth(lf, rt) for lf, rt in zip(lefts, rights, strict=True)),
            denominator=len(lefts) * float(average_path_length(np.asarray([max_samples]))[0]),
            offset=offset,
        )

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

    def depths(self, x: np.ndarray) -> np.ndarray:
        """Summed path lengths of many rows at once (each row's sum in tree order, as `score` adds them)."""
        rows = np.asarray(x, dtype=np.float32).astype(np.float64)
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
        at = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            go_left = rows[at, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        per_tree = self.path[node] + self.average[node] - 1.0
        total = np.zeros(len(rows))
        for t in range(per_tree.shape[1]):
            total += per_tree[:, t]
        return total


def average_path_length(n: np.ndarray) -> np.ndarray:
    """scikit-learn's `_average_path_length` of an array of sample counts (the same numpy operations)."""
    n = np.asarray(n).reshape((1, -1))
    out = np.zeros(n.shape)
    one, two = n <= 1, n == 2
    rest = ~np.logical_or(one, two)
    out[one] = 0.0
    out[two] = 1.0
    out[rest] = 2.0 * (np.log(n[rest] - 1.0) + np.euler_gamma) - 2.0 * (n[rest] - 1.0) / n[rest]
    result: np.ndarray = out.reshape(-1)
    return result


def _max_depth(left: np.ndarray, right: np.ndarray) -> int:
    depth = np.zeros(len(left), dtype=np.intp)
    for node in range(len(left)):  # children come after their parent
        if left[node] != LEAF:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return int(depth.max())


def grow(
    x: np.ndarray, n_estimators: int, max_samples: int, contamination: float, seed: int
) -> tuple[Forest, np.ndarray] | None:
    """PyOD's `IForest(n_estimators, max_samples, contamination, random_state=seed).fit(x)`: the Forest and
    its `decision_scores_`; None when a float tie only scikit-learn can settle came up."""
    x32 = np.asarray(x, dtype=np.float64).astype(np.float32)
    n, n_features = x32.shape
    y: list[float] = np.random.RandomState(seed).uniform(size=(n,)).tolist()  # the trees' regression target
    seeds = np.random.RandomState(seed).randint(MAX_INT, size=n_estimators)
    max_depth = int(np.ceil(np.log2(max(max_samples, 2))))
    unique, inverse_rows = _distinct(x32)  # trees split groups of equal rows; a score is walked once per row
    columns = [unique[:, f].tolist() for f in range(n_features)]  # float32 values, exact as Python floats
    trees = []
    rng = np.random.RandomState(0)  # reseeded per use: the same stream as a new RandomState(seed), 500x cheaper
    for tree_seed in seeds.tolist():
        rng.seed(tree_seed)  # the tree's own random_state (`_set_random_states`), then its splitter's seed
        rng.seed(rng.randint(MAX_INT))
        state = int(rng.randint(0, RAND_R_MAX))
        rng.seed(tree_seed)  # the bagging draws (`_generate_bagging_indices`)
        _sample_without_replacement(n_features, n_features, rng)  # the feature draw (all features, in order)
        chosen = np.sort(_sample_without_replacement(n, max_samples, rng))  # fit on weights: ascending order
        sample = _Sample.of(columns, inverse_rows[chosen], [y[i] for i in chosen.tolist()])
        tree = _tree(sample, float(max_samples), max_depth, state)
        if tree is None:
            return None
        trees.append(tree)
    lefts, rights, feats, thresholds, counts = (list(t) for t in zip(*trees, strict=True))
    paths = [_node_depths(lf, rt) for lf, rt in zip(lefts, rights, strict=True)]
    averages = [average_path_length(c) for c in counts]
    forest = Forest.of_trees(lefts, rights, feats, thresholds, paths, averages, max_samples, 0.0)
    if forest.denominator == 0:
        scores = np.ones(n)
    else:
        scores = (2 ** (-np.divide(forest.depths(unique), forest.denominator)))[inverse_rows]
    forest.offset = float(np.percentile(-scores, 100.0 * contamination))
    return forest, ((-scores) - forest.offset) * -1  # PyOD: decision_function(x), sign inverted


def _distinct(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of `x` and, per row of `x`, the index of its distinct row (np.unique(axis=0) is 10x slower)."""
    order = np.lexsort(x.T[::-1])
    ranked = x[order]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    inverse = np.empty(len(x), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ranked[first], inverse


def _sample_without_replacement(population: int, k: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's `sample_without_replacement(population, k, method="auto")` (utils/_random.pyx)."""
    ratio = k / population if population != 0 else 1.0
    if 0.01 < ratio < 0.99:
        return rng.permutation(population)[:k]
    if ratio < 0.2:  # tracking selection: the first k distinct draws (batched: the same stream)
        out: list[int] = []
        selected: set[int] = set()
        while len(out) < k:
            for j in rng.randint(population, size=k - len(out)).tolist():
                if j not in selected and len(out) < k:
                    selected.add(j)
                    out.append(j)
        return np.asarray(out, dtype=np.intp)
    reservoir = list(range(k))
    for i in range(k, population):
        j = rng.randint(0, i + 1)
        if j < k:
            reservoir[j] = i
    return np.asarray(reservoir, dtype=np.intp)


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    depths = np.ones(len(left))
    for node in range(len(left)):
        if left[node] != LEAF:
            depths[left[node]] = depths[right[node]] = depths[node] + 1
    return depths


def _impurity(y: list[float], rows: list[int]) -> float:
    """The variance of the node's target, computed accurately (two passes)."""
    values = [y[i] for i in rows]
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


@dataclass
class _Sample:
    """One tree's bootstrap sample as groups of equal rows: quantized vectors repeat (a month of sign-ins
    has ~1.4k distinct ones in 40k), and a split only ever sees a row's values, so a node holds groups
    and its cost goes with the distinct rows in it, not the rows. What needs the rows themselves (the
    regression target's leaf tests) is read off per-group sums, bounds and members."""

    columns: list[list[float]]  # per feature, per group: the value (float32, exact as a Python float)
    members: list[list[int]]  # per group: its rows in the sample, ascending
    sizes: list[int]
    sums: list[float]  # per group: the sum of its rows' targets (in any order: for estimates, never the figure)
    lows: list[float]
    highs: list[float]
    y: list[float]  # per row of the sample: the target

    @classmethod
    def of(cls, columns: list[list[float]], groups: np.ndarray, y: list[float]) -> _Sample:
        """`groups[j]`: the index (into `columns`' distinct rows) of sample row j; `y[j]` its target."""
        kept, local, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        order = np.argsort(local, kind="stable")  # rows grouped, ascending within each group
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        targets = np.asarray(y)[order]
        rows, bounds = order.tolist(), list(zip(starts.tolist(), (starts + sizes).tolist(), strict=True))
        return cls(
            columns=[[column[g] for g in kept.tolist()] for column in columns],
            members=[rows[a:b] for a, b in bounds],
            sizes=sizes.tolist(),
            sums=np.add.reduceat(targets, starts).tolist(),
            lows=np.minimum.reduceat(targets, starts).tolist(),
            highs=np.maximum.reduceat(targets, starts).tolist(),
            y=y,
        )

    def rows(self, node: list[int]) -> list[int]:
        """The sample rows of the groups of `node`, ascending (the order scikit-learn's node holds them in)."""
        return sorted(j for g in node for j in self.members[g])

    def surely_not_pure(self, node: list[int], size: int) -> bool:
        """True when the node's target variance is certainly above TIE: n values spanning r vary by at least
        r * r / (2 * n), so the exact two-pass figure is needed only for near-constant targets (two of the
        node's rows nearly always settle it; else its whole span)."""
        y, members, bound = self.y, self.members, 4 * TIE * size
        first = members[node[0]]
        gap = y[first[0]] - (y[first[1]] if len(first) > 1 else y[members[node[1]][0]])
        if gap * gap > bound:
            return True
        spread = max([self.highs[g] for g in node]) - min([self.lows[g] for g in node])
        return spread * spread > bound


def _surely_improves(low_n: int, low_sum: float, up_n: int, up_sum: float, size: int, weighted: float) -> bool:
    """True when a split's impurity decrease is certainly above TIE, judged from target sums that were added
    in another order or got by subtraction (they move a mean by < 1e-10, so a gap of 1e-9 and a figure 8x
    TIE leave no doubt)."""
    gap = low_sum / low_n - up_sum / up_n
    return abs(gap) > 1e-9 and low_n * up_n / size / weighted * gap * gap > 8 * TIE


def _tree(
    sample: _Sample, weighted: float, max_depth: int, state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """One isolation tree over `sample` as scikit-learn grows it over its rows, or None on a float tie."""
    columns, sizes, y = sample.columns, sample.sizes, sample.y
    n_features = len(columns)
    features, constants = list(range(n_features)), [0] * n_features
    left: list[int] = []
    right: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    count: list[int] = []

    sums = sample.sums
    # the splitter's generator (our_rand_r: xorshift, then % (RAND_R_MAX + 1)), written out where it draws
    s = state
    # (groups, rows in them, their targets' sum, depth, parent, is left child, constant features known)
    stack: list[tuple[list[int], int, float, int, int, bool, int]] = [
        (list(range(len(sizes))), len(y), sum(sums), 0, -1, False, 0)
    ]
    while stack:
        node_groups, size, node_sum, depth, parent, is_left, known = stack.pop()
        node = len(left)
        left.append(LEAF)
        right.append(LEAF)
        feature.append(-2)
        threshold.append(-2.0)
        count.append(size)
        if parent >= 0:
            (left if is_left else right)[parent] = node
        if depth >= max_depth or size < 2:
            continue
        if not sample.surely_not_pure(node_groups, size) and _impurity(y, sample.rows(node_groups)) < TIE:
            return None  # scikit-learn: a leaf when its figure is <= eps
        # RandomSplitter.node_split with max_features=1
        f_i, found, drawn, total, visited = n_features, 0, 0, known, 0
        best: tuple[int, float, list[int], list[int]] | None = None
        single = len(node_groups) == 1  # one distinct row: every feature is constant, no need to look
        while f_i > total and (visited < 1 or visited <= found + drawn):
            visited += 1
            s = s or 1
            s ^= (s << 13) & 0xFFFFFFFF
            s ^= s >> 17
            s ^= (s << 5) & 0xFFFFFFFF
            f_j = drawn + (s & RAND_R_MAX) % (f_i - found - drawn)
            if f_j < known:
                features[drawn], features[f_j] = features[f_j], features[drawn]
                drawn += 1
                continue
            f_j += found
            current = features[f_j]
            if not single:
                column = columns[current]
                values = [column[g] for g in node_groups]
                low, high = min(values), max(values)
            if single or (high - low <= 1e-6 and np.float32(high) <= np.float32(low) + FEATURE_THRESHOLD):
                features[f_j], features[total] = features[total], current
                found += 1
                total += 1
                continue
            f_i -= 1
            features[f_i], features[f_j] = features[f_j], features[f_i]
            s = s or 1
            s ^= (s << 13) & 0xFFFFFFFF
            s ^= s >> 17
            s ^= (s << 5) & 0xFFFFFFFF
            cut = ((high - low) * float(s & RAND_R_MAX) / float(RAND_R_MAX)) + low
            if cut == high:
                cut = low
            lower = [g for g, v in zip(node_groups, values, strict=True) if v <= cut]
            if not lower or len(lower) == len(node_groups):
                continue
            best = (current, cut, lower, [g for g, v in zip(node_groups, values, strict=True) if not v <= cut])
        features[:known] = constants[:known]
        constants[known : known + found] = features[known : known + found]
        if best is None:
            continue
        current, cut, lower, upper = best
        low_n, low_sum = sum([sizes[g] for g in lower]), sum([sums[g] for g in lower])
        up_n, up_sum = size - low_n, node_sum - low_sum
        if not _surely_improves(low_n, low_sum, up_n, up_sum, size, weighted):
            # the impurity decrease, from the children's means (scikit-learn: a leaf when it is below -eps)
            low_rows, up_rows = sample.rows(lower), sample.rows(upper)
            gap = sum(y[i] for i in low_rows) / len(low_rows) - sum(y[i] for i in up_rows) / len(up_rows)
            if len(low_rows) * len(up_rows) / size / weighted * gap * gap < TIE:
                return None
        feature[node], threshold[node] = current, cut
        stack.append((upper, up_n, up_sum, depth + 1, node, False, total))
        stack.append((lower, low_n, low_sum, depth + 1, node, True, total))
    return (
        np.asarray(left, dtype=np.intp),
        np.asarray(right, dtype=np.intp),
        np.asarray(feature, dtype=np.intp),
        np.asarray(threshold, dtype=np.float64),
        np.asarray(count, dtype=np.int64),
    )
