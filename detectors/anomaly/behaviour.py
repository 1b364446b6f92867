"""What every behaviour observer shares: the observation it returns and the peer knowledge it reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemas.event import Event

State = dict[str, Any]
MAX_PEER_VALUES = 64  # values remembered per (group, kind): a workspace's usual networks, countries...


class Observation(NamedTuple):
    """One event seen against its entity's profile: the feature vector and what explains it.

    `facts()` maps a feature name to (what this event showed, the entity's normal), in words an
    analyst reads: a function, called only for the few events that are explained (formatting
    them for every event cost more than scoring it); `history` is how many events the profile
    had learned before this one. A named tuple: built for every sign-in, where a frozen dataclass
    costs three times as much."""

    vector: tuple[float, ...]
    facts: Callable[[], dict[str, tuple[str, str]]]
    history: int
    peer_values: tuple[tuple[str, str, str], ...] = ()  # (group, kind, value) this event teaches the peers


@dataclass
class Peers:
    """What an entity's group knows (a workspace's networks and countries): bounded, JSON-able.

    Frozen into a model at training time, so a worker and the embedded runner scoring with the
    same model read the same peer knowledge; a learning runtime adds to it as events come."""

    known: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def knows(self, group: str | None, kind: str, value: str | None) -> bool:
        """True when some member of `group` was seen with `value` of `kind`."""
        if group is None or value is None:
            return False
        return value in self.known.get(group, {}).get(kind, ())

    def learn(self, values: tuple[tuple[str, str, str], ...]) -> None:
        """Remember (group, kind, value) triples, most recent last, bounded per group and kind."""
        for group, kind, value in values:
            seen = self.known.setdefault(group, {}).setdefault(kind, [])
            if seen and seen[-1] == value and seen.index(value) == len(seen) - 1 and len(seen) <= MAX_PEER_VALUES:
                continue  # already the most recent one (the usual case): nothing moves
            if value in seen:
                seen.remove(value)
            seen.append(value)
            del seen[:-MAX_PEER_VALUES]


ObserveFn = Callable[[State | None, Event, Peers], tuple[State | None, Observation | None]]


@dataclass(frozen=True)
class Behaviour:
    """One kind of behaviour: its feature names and its observer (pure: profile in, profile out)."""

    kind: str
    detector: str  # the id of the detector that scores it
    features: tuple[str, ...]
    observe: ObserveFn
    # feature -> the aspect it speaks of (where, when, device, how...): features of one aspect move
    # together (a trip brings a new country *and* a new network), so a page needs strong signals
    # in two aspects, never two of the same one
    groups: dict[str, str]
    describe: Callable[[Event], str] = lambda event: event.event.id
