"""An expected log source sent nothing for too long: pipeline completeness is a detection too."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import Duration, beat, check, iso, next_due, silence, utc
from detectors.rules._control import finding
from schemas.alert import Resource
from schemas.event import Event

# Every dataset a normalizer emits: any event is a heartbeat of its source (a unit test checks
# this list against the normalizer registry).
DATASETS = (
    "app.signin",
    "aws.cloudtrail",
    "aws.vpcflow",
    "control.events",
    "laptop.posture",
    "okta.system",
    "ssh.auth",
    "staff.access",
    "vuln.finding",
    "web.access",
    "zeek.ssl",
    "zeek.x509",
)

META = DetectorMeta(
    id="source_silent",
    title="Log source silent",
    description="A log source listed in `expected` (source id as in `secmon sources`, i.e. event.module) sent "
    "no event for longer than its allowed silence. Timed: watched from the first tick even if it "
    "never sent anything, dated at the deadline, resolved by the source's next event.",
    version=2,
    severity="medium",
    maturity="stable",
    datasets=DATASETS,
    state=StateSpec(kind="last_seen", key=("event.module",)),
    tags=("policy.log_sources", "attack.defense_evasion", "attack.t1562.006"),
    dedup_period=timedelta(days=30),
)


class Params(BaseModel):
    """Which sources must keep sending, and how long each may be silent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expected: dict[str, Duration] = Field(
        default_factory=dict,
        description="Source id -> longest silence, e.g. {cloudtrail: 30m, app_signin: 15m, control: 26h}.",
    )
    default_max_silence: Duration | None = Field(
        None,
        description="Also watch every other source seen, with this longest silence (None: only the expected ones).",
    )


def max_silence(params: Params, source: str) -> float | None:
    """Seconds `source` may be silent, or None when it is not watched."""
    age = params.expected.get(source, params.default_max_silence)
    return age.total_seconds() if age is not None else None


def entity(source: str) -> Entity:
    """The log source as a resource."""
    return Entity(resource=Resource(type="log_source", id=source))


def step(state, event: Event, params: Params):
    """Any event of the source: check the deadline as of it, then reset the source's clock."""
    source, max_age = event.event.module, max_silence(params, event.event.module)
    if max_age is None:
        return None, []
    ts = event.timestamp.timestamp()
    state, missed = check({**(state or {}), "source": source}, ts, max_age)
    findings = [_missed(state, missed, max_age)] if missed is not None else []
    state, cleared = beat(state, ts)
    if cleared:
        findings.append(
            finding(
                f"log source {source} sends again ({iso(ts)})", entity(source), event.timestamp, event, resolve=True
            )
        )
    return state, findings


def tick(state, now, params: Params):
    """Raise the alert once the source has been silent past its deadline."""
    max_age = max_silence(params, state["source"]) if state else None
    if max_age is None:
        return state, []
    state, missed = check(state, now.timestamp(), max_age)
    return state, [_missed(state, missed, max_age)] if missed is not None else []


def deadline(state, params: Params):
    """When the source's silence passes the allowed one (None once reported, or not watched)."""
    return next_due(state, max_silence(params, state["source"]))


def _missed(state, due: float, max_age: float):
    message = f"log source {state['source']} sent no event by {iso(due)} ({silence(state, max_age)})"
    return finding(message, entity(state["source"]), utc(due))


def start(source: str, now, params: Params):
    """An expected source's clock starts at its first tick."""
    return {"source": source, "since": now.timestamp()} if max_silence(params, source) is not None else None


def key(event: Event) -> str | None:
    """The source id (event.module) of any event."""
    return event.event.module


DETECTOR = Detector(
    meta=META,
    params=Params,
    step=step,
    key=key,
    tick=tick,
    seeds=lambda params: list(params.expected),
    start=start,
    deadline=deadline,
)
