"""A laptop reports disk encryption off, or its screen lock off or too slow to engage."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import DUE, Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import iso, utc
from detectors.rules._control import finding
from schemas.event import Event, Host, User

SETTLE_S = 60.0  # rows of one osquery run share its time; a run is complete once the clock is past it

META = DetectorMeta(
    id="laptop_noncompliant",
    title="Laptop not compliant: disk encryption or screen lock",
    description="osquery posture says a laptop's disk is not encrypted, or its screen lock is off or engages "
    "later than allowed. The rows of one query run (one per volume) are combined: one unencrypted "
    "volume is enough. The alert resolves once a later complete run is compliant; with "
    "differential logging only changed rows arrive, so schedule the posture pack as snapshots.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("laptop.posture",),
    state=StateSpec(kind="last_seen", key=("host.name",)),
    tags=("policy.laptop_posture",),
    dedup_period=timedelta(days=7),
)


class Params(BaseModel):
    """What a compliant laptop looks like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_screen_lock_delay_seconds: int = Field(300, ge=0, description="Longest idle time before the lock engages.")
    require_disk_encryption: bool = Field(True, description="Alert on an unencrypted volume.")
    require_screen_lock: bool = Field(True, description="Alert on a screen lock that is off or too slow.")


def _apply(state: dict, check: str, ts: float, ok: bool, why: str) -> None:
    """Fold one row into its query's current run: a newer run replaces it, a row of the same run ANDs."""
    run = state.get(check)
    if run is None or ts > run["t"]:
        state[check] = {"t": ts, "ok": ok, "why": why}
    elif ts == run["t"] and not ok:
        state[check] = {"t": ts, "ok": False, "why": why}


def problems(state: dict) -> list[str]:
    """What is wrong with the laptop according to its latest runs."""
    return [state[c]["why"] for c in ("disk", "lock") if c in state and not state[c]["ok"]]


def entity(state: dict) -> Entity:
    """The laptop and its user."""
    return Entity(
        host=Host(name=state["host"], id=state.get("id")), user=User(name=state["user"]) if state.get("user") else None
    )


def step(state, event: Event, params: Params):
    """A posture row: fold it into the laptop's state; alert when what is wrong appears or changes."""
    posture, ts = event.secmon.posture, event.timestamp.timestamp()
    state = {**(state or {}), "host": event.host.name}
    state.update({k: v for k, v in (("id", event.host.id), ("user", event.user.name if event.user else None)) if v})
    if posture.disk_encrypted is not None and params.require_disk_encryption:
        _apply(state, "disk", ts, posture.disk_encrypted, "disk encryption off")
    if posture.screen_lock_enabled is not None and params.require_screen_lock:
        delay, limit = posture.screen_lock_delay_seconds, params.max_screen_lock_delay_seconds
        ok = posture.screen_lock_enabled and (delay is None or delay <= limit)
        why = "screen lock off" if not posture.screen_lock_enabled else f"screen lock after {delay}s (max {limit}s)"
        _apply(state, "lock", ts, ok, why)
    wrong = problems(state)
    if not wrong or wrong == state.get("alerted"):
        return state, []
    state["alerted"] = wrong
    message = f"laptop {state['host']} is not compliant: {'; '.join(wrong)}"
    return state, [finding(message, entity(state), event.timestamp, event)]


def tick(state, now, params: Params):
    """Resolve once a complete run after the alert is compliant (rows of a run may still be arriving)."""
    if not state or not state.get("alerted") or problems(state):
        return state, []
    reported = max(run["t"] for run in (state.get("disk"), state.get("lock")) if run)
    if now.timestamp() < reported + SETTLE_S:
        return state, []
    state = {k: v for k, v in state.items() if k != "alerted"}
    return state, [
        finding(
            f"laptop {state['host']} is compliant again ({iso(reported)})", entity(state), utc(reported), resolve=True
        )
    ]


def deadline(state, params: Params):
    """When an alerted laptop whose latest runs are compliant resolves (its runs have settled)."""
    if not state.get("alerted") or problems(state):
        return None
    return max((run["t"] for run in (state.get("disk"), state.get("lock")) if run), default=DUE) + SETTLE_S


def key(event: Event) -> str | None:
    """host.name of a disk-encryption or screen-lock row."""
    posture = event.secmon.posture
    if posture is None or not (event.host and event.host.name):
        return None
    return event.host.name if posture.disk_encrypted is not None or posture.screen_lock_enabled is not None else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, tick=tick, deadline=deadline)
