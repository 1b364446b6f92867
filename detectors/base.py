"""What a detector is: typed metadata, typed parameters and one pure step function.

A detector never touches Faust, Kafka or Elasticsearch. The engine hands it the JSON state it
kept for one entity (or None) and one event; it returns the new state and its findings. The
same code therefore runs in the Faust workers (state in a table) and the embedded runner (dict).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.alert import AnomalyDetails, Maturity, Resource, Severity
from schemas.event import Cloud, Endpoint, Event, Host, Organization, User

State = dict[str, Any]  # JSON-serializable: it is stored in a Faust table changelog.


class Frozen(BaseModel):
    """Immutable, strict metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StateSpec(Frozen):
    """The state a detector keeps: its kind, the ECS fields that key it, its window."""

    kind: Literal["none", "sliding_window", "first_seen", "last_seen", "sequence"]
    key: tuple[str, ...] = Field(description="ECS field paths whose values form the entity key.")
    window: timedelta | None = Field(None, description="Event-time window the state spans.")


class DetectorMeta(Frozen):
    """Everything about a detector except its logic; validated when the registry loads."""

    id: str = Field(
        pattern=r"^([a-z][a-z0-9_]{2,63}|sigma-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$",
        description="Stable id == file stem (a Sigma rule: sigma-<its uuid>).",
    )
    title: str = Field(min_length=5, max_length=120, description="One-line title.")
    description: str = Field(min_length=20, description="What it detects and why it matters.")
    version: int = Field(ge=1, description="Bump when the logic changes.")
    severity: Severity
    maturity: Maturity
    datasets: tuple[str, ...] = Field(min_length=1, description="event.dataset values it reads.")
    state: StateSpec
    tags: tuple[str, ...] = Field(default=(), description="MITRE ATT&CK (attack.tXXXX) and policy tags.")
    dedup_period: timedelta = Field(description="Findings for one entity within it update one alert.")
    ruleset: Literal["secmon", "sigma"] = Field("secmon", description="secmon's own detectors, or a Sigma rule.")
    references: tuple[str, ...] = Field(default=(), description="Where the detection is documented (URLs).")


@dataclass(frozen=True)
class Entity:
    """The ECS fields that name what an alert is about (same names as in events)."""

    user: User | None = None
    source: Endpoint | None = None
    destination: Endpoint | None = None
    host: Host | None = None
    organization: Organization | None = None
    cloud: Cloud | None = None
    resource: Resource | None = None  # what no ECS field names: a security group, a backup job...


@dataclass(frozen=True)
class Finding:
    """One detection: a sentence, the entity, when, and the events behind it.

    `resolve=True` says the condition cleared (the control caught up): the entity's open alert,
    if any, is marked resolved instead of counted, and the next finding opens a new alert.
    `severity` and `maturity` override the detector's for this finding (a risk score decides how
    loud it is; a shadow model's findings are experimental); a merged alert keeps the worst
    severity it was given. `variant` keeps a separate alert for the same entity (a shadow model
    beside the live one), with its own id.
    """

    message: str
    entity: Entity
    timestamp: datetime
    event_ids: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    resolve: bool = False
    severity: Severity | None = None
    maturity: Maturity | None = None
    variant: str | None = None
    anomaly: AnomalyDetails | None = None


StepFn = Callable[[State | None, Event, Any], tuple[State | None, list[Finding]]]
# Called with the entity's state and the current time (event time in replay, wall time live):
# deadline and heartbeat detectors raise findings when nothing happened in time.
TickFn = Callable[[State | None, datetime, Any], tuple[State | None, list[Finding]]]
# (entity's state, params) -> the next deadline in epoch seconds, DUE, or None (see Detector.deadline)
DeadlineFn = Callable[[State, Any], float | None]
DUE = float("-inf")  # a deadline: due at the next tick, whenever it comes


@dataclass(frozen=True)
class Detector:
    """A registered detector: metadata, parameter model and step function."""

    meta: DetectorMeta
    params: type[BaseModel]
    step: StepFn
    key: Callable[[Event], str | None] | None = field(default=None)
    # The entity key when it depends on the parameters (e.g. which host group a server is in);
    # takes precedence over `key` in the engine.
    key_with: Callable[[Event, Any], str | None] | None = None
    tick: TickFn | None = None
    # Entities a timed detector watches even before any event arrived (e.g. configured log
    # sources or backup jobs): their absence is exactly what it must notice.
    seeds: Callable[[Any], list[str]] | None = None
    # The state an entity without one starts with at its first tick, given its key, the time and
    # the params (None: not watched). A tick alone does not know which seed it is ticking.
    start: Callable[[str, datetime, Any], State | None] | None = None
    # A timed detector's next deadline for an entity: the event time (epoch seconds) from which
    # `tick` may change its state or find something, DUE for the next tick, None for never (until
    # an event changes the state). A tick before it must change nothing. The engine ticks only the
    # entities that are due (a timed detector without `deadline` is ticked at every tick).
    deadline: DeadlineFn | None = None
    # Seconds an entity's state stays useful after its last event (e.g. its window): the engine
    # drops an entity idle for longer (see detectors/engine.py). None here, or returned: the state
    # is kept until the detector itself returns None (bounded otherwise, e.g. by configuration).
    ttl: Callable[[Any], float | None] | None = None

    def entity_key(self, event: Event) -> str | None:
        """The entity this event belongs to for this detector, or None to skip the event."""
        if event.event.dataset not in self.meta.datasets:
            return None
        if self.key is not None:
            return self.key(event)
        return self.default_key(event)

    def default_key(self, event: Event) -> str | None:
        """The entity key from `meta.state.key`'s fields (None when one is missing or empty)."""
        return key_function(self.meta.state.key)(event)


@cache
def key_function(paths: tuple[str, ...]) -> Callable[[Event], str | None]:
    """The entity key of `paths`' values on an event, "|"-joined (None when one is missing or
    empty); built once per key shape: it runs for every event of the detectors that use it."""
    chains = [_attributes(path) for path in paths]

    def key(event: Event) -> str | None:
        parts = []
        for chain in chains:
            value: Any = event
            for name in chain:
                value = getattr(value, name, None)
                if value is None:
                    return None
            if value == "":
                return None
            parts.append(str(value))
        return "|".join(parts)

    return key


@cache
def _attributes(path: str) -> tuple[str, ...]:
    """The attribute names of a dotted ECS path (`as` is `as_` in the models)."""
    return tuple("as_" if part == "as" else part for part in path.split("."))


def field_value(event: Event, path: str) -> Any:
    """Value of a dotted ECS path (e.g. `source.ip`) on an event, or None."""
    value: Any = event
    for part in _attributes(path):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value
