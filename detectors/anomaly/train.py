"""Training: replay history through the same observers the detectors use, then fit one model per kind.

The vectors a model is trained on are computed exactly as the detector computes them online
(same observer, same profile before the event, same peer knowledge so far), so a score at
training time and the score of the same event live agree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from detectors.anomaly.behaviour import Behaviour, Peers, State
from detectors.anomaly.model import AnomalyModel, fit
from schemas.event import Event


@dataclass
class Replay:
    """Profiles and training vectors of one behaviour built from history in time order."""

    behaviour: Behaviour
    key: Callable[[Event], str | None]
    min_history: int
    min_samples: int = 200  # fewer scorable events than this make no model
    max_samples: int = 1_000_000
    profiles: dict[str, State] = field(default_factory=dict)
    peers: Peers = field(default_factory=Peers)
    vectors: deque[Any] = field(default_factory=deque)
    events: int = 0
    first: float | None = None
    last: float | None = None

    def add(self, event: Event) -> None:
        """Observe one event (of any dataset; others are skipped by the key)."""
        key = self.key(event)
        if key is None:
            return
        self.events += 1
        ts = event.timestamp.timestamp()
        self.first = ts if self.first is None else min(self.first, ts)
        self.last = ts if self.last is None else max(self.last, ts)
        state, obs = self.behaviour.observe(self.profiles.get(key), event, self.peers)
        if state is not None:
            self.profiles[key] = state
        if obs is None:
            return
        if obs.history >= self.min_history:
            self.vectors.append(obs.vector)
            if len(self.vectors) > self.max_samples:
                self.vectors.popleft()
        self.peers.learn(obs.peer_values)

    def fit(self, source: str, seed: int = 0) -> AnomalyModel:
        """The model of everything added so far."""
        trained = {
            "mode": "trained",
            "source": source,
            "events": self.events,
            "entities": len(self.profiles),
            "from": _iso(self.first),
            "until": _iso(self.last),
            "min_history": self.min_history,
        }
        return fit(self.behaviour.kind, self.behaviour.features, np.asarray(self.vectors), self.peers, trained, seed)


def replay(events: Iterable[Event], replays: list[Replay]) -> None:
    """Feed events (in time order) to every replay."""
    for event in events:
        for r in replays:
            r.add(event)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat() if ts is not None else None
