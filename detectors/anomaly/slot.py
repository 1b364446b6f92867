"""The models one anomaly detector scores with: a loaded (live) model, a shadow, or its own learner.

With a model file configured, the runtime installs its models here (and swaps them on a hot
reload); peer knowledge is then the model's, frozen at training. The worker only ever scores
with such files. Embedded, without one, the slot learns from the stream it sees: it keeps the feature vectors of a learning period (event time), fits a
model once the period is over, and refits on the latest vectors every `relearn_days`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.anomaly.behaviour import Behaviour, Peers
from detectors.anomaly.model import AnomalyModel, fit

DAY = 86400.0


@dataclass(frozen=True)
class LearnPolicy:
    """When a learning slot fits: after `days` of event time with at least `min_samples` vectors."""

    days: float = 7.0
    min_samples: int = 200
    relearn_days: float = 7.0
    max_samples: int = 100_000


@dataclass
class ModelSlot:
    """Live and shadow models of one behaviour, or the learner that stands in for them."""

    behaviour: Behaviour
    policy: LearnPolicy = field(default_factory=LearnPolicy)
    live: AnomalyModel | None = None
    shadow: AnomalyModel | None = None
    learning: bool = True
    _peers: Peers = field(default_factory=Peers)
    _buffer: deque[Any] = field(default_factory=deque)
    _started: float | None = None
    _fitted_at: float | None = None

    def install(self, live: AnomalyModel | None, shadow: AnomalyModel | None = None) -> None:
        """Score with these models from now on (a loaded file: no more learning from the stream)."""
        self.live, self.shadow, self.learning = live, shadow, False

    def stop_learning(self) -> None:
        """Score only with installed models (the worker: a learner in memory would differ per process and
        start over at every restart, so it waits for a model trained from history instead)."""
        if self.live is None:
            self.learning = False

    @property
    def peers(self) -> Peers:
        """Peer knowledge the observers read: the live model's, else what this slot learned."""
        return self.live.peers if self.live is not None and not self.learning else self._peers

    def learn(self, vector: tuple[float, ...], peer_values: tuple[Any, ...], ts: float) -> None:
        """Learning mode: keep the vector and the peers it teaches; fit when the period is over."""
        if not self.learning:
            return
        self._peers.learn(peer_values)
        if vector:
            self._buffer.append(vector)
            while len(self._buffer) > self.policy.max_samples:
                self._buffer.popleft()
        self._started = ts if self._started is None else min(self._started, ts)
        due = (self._fitted_at is None and ts - self._started >= self.policy.days * DAY) or (
            self._fitted_at is not None and ts - self._fitted_at >= self.policy.relearn_days * DAY
        )
        if due and len(self._buffer) >= self.policy.min_samples:
            self._fit(ts)

    def _fit(self, ts: float) -> None:
        b = self.behaviour
        trained = {"mode": "learned from the stream", "until_ts": ts, "learn_days": self.policy.days}
        model = fit(b.kind, b.features, np.asarray(self._buffer), self._peers, trained)
        model.version = f"learned-{int(ts)}"
        self.live, self._fitted_at = model, ts
