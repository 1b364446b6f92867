"""A known laptop has not reported its posture (osquery) for too long (24 h by default)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import Duration, beat, check, iso, next_due, silence, utc
from detectors.rules._control import finding
from schemas.event import Event, Host, User

META = DetectorMeta(
    id="laptop_posture_missing",
    title="Laptop posture not reported",
    description="A laptop seen once (or listed in `laptops`) sent no osquery posture result for longer than "
    "allowed: its encryption and screen lock can no longer be vouched for. Timed: dated at the "
    "deadline, resolved by the laptop's next report. Laptops switched off over a weekend or a "
    "holiday go silent too: raise `max_silence` (e.g. 4d) if that is expected.",
    version=1,
    severity="low",
    maturity="stable",
    datasets=("laptop.posture",),
    state=StateSpec(kind="last_seen", key=("host.name",)),
    tags=("policy.laptop_posture",),
    dedup_period=timedelta(days=30),
)


class Params(BaseModel):
    """Which laptops must report, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    laptops: list[str] = Field(
        default_factory=list,
        description="host.name of laptops watched from the start, "
        "even if they never report (e.g. from the asset inventory).",
    )
    max_silence: Duration = Field(timedelta(hours=24), description="Longest time without a posture result.")
    watch_unlisted: bool = Field(True, description="Also watch laptops not listed, from their first report.")


def entity(state) -> Entity:
    """The laptop (and its user, when osquery named one)."""
    return Entity(
        host=Host(name=state["host"], id=state.get("id")), user=User(name=state["user"]) if state.get("user") else None
    )


def step(state, event: Event, params: Params):
    """A posture result: check the deadline as of it, then reset the laptop's clock."""
    name = event.host.name
    if name not in params.laptops and not params.watch_unlisted:
        return state, []
    ts, max_age = event.timestamp.timestamp(), params.max_silence.total_seconds()
    state, missed = check({**(state or {}), "host": name}, ts, max_age)
    findings = [_missed(state, missed, max_age)] if missed is not None else []
    state, cleared = beat(state, ts)
    state.update({k: v for k, v in (("id", event.host.id), ("user", event.user.name if event.user else None)) if v})
    if cleared:
        findings.append(
            finding(
                f"laptop {name} reports its posture again ({iso(ts)})",
                entity(state),
                event.timestamp,
                event,
                resolve=True,
            )
        )
    return state, findings


def tick(state, now, params: Params):
    """Raise the alert once the laptop has been silent past its deadline."""
    if state is None:
        return None, []
    max_age = params.max_silence.total_seconds()
    state, missed = check(state, now.timestamp(), max_age)
    return state, [_missed(state, missed, max_age)] if missed is not None else []


def deadline(state, params: Params):
    """When the laptop's silence passes the allowed one (None once reported)."""
    return next_due(state, params.max_silence.total_seconds())


def _missed(state, due: float, max_age: float):
    message = f"laptop {state['host']} sent no posture result by {iso(due)} ({silence(state, max_age)})"
    return finding(message, entity(state), utc(due))


def start(key: str, now, params: Params):
    """A listed laptop's clock starts at its first tick."""
    return {"host": key, "since": now.timestamp()} if key in params.laptops else None


def key(event: Event) -> str | None:
    """host.name of a posture result."""
    return event.host.name if event.host and event.host.name and event.event.dataset == "laptop.posture" else None


DETECTOR = Detector(
    meta=META,
    params=Params,
    step=step,
    key=key,
    tick=tick,
    seeds=lambda params: list(params.laptops),
    start=start,
    deadline=deadline,
)
