"""A successful sign-in right after a burst of failures: a guessing attack that got in."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Finding, StateSpec, field_value
from detectors.rules._signin import ip_of, user_entity

META = DetectorMeta(
    id="signin_success_after_failures",
    title="Successful sign-in after a burst of failures",
    description="A user signs in successfully after N failed sign-ins for the same user within the "
    "window before it (from any IPs): the guessing may have worked.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="sliding_window", key=("user.name",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110", "attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """How many failures within which window before a success make it suspicious."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(5, ge=1, description="Failures before the success that make a burst.")
    window_seconds: int = Field(600, ge=1, description="Event-time window before the success, in seconds.")


def step(state, event, params: Params):
    """Keep the user's recent failures; a success checks and then clears them."""
    ts = event.timestamp.timestamp()
    if event.event.outcome == "failure":
        return windows.add(state, ts, f"{event.event.id} {ip_of(event)}", params.window_seconds), []
    if event.event.outcome != "success" or not state:
        return state, []
    before = [e for e in state["w"] if ts - params.window_seconds < e[0] <= ts]
    # The success ends the burst; failures stamped after it (late arrivals) start the next one.
    after = [e for e in state["w"] if e[0] > ts]
    state = {"w": after} if after else None
    if len(before) < params.threshold:
        return state, []
    ips = sorted({item.split(" ", 1)[1] for _, item in before})
    finding = Finding(
        message=f"successful sign-in for {field_value(event, 'user.name')} from {ip_of(event)} after "
        f"{len(before)} failed sign-ins within {params.window_seconds}s "
        f"(from {len(ips)} IP{'s' if len(ips) > 1 else ''}: {', '.join(ips[:5])})",
        entity=user_entity(event),
        timestamp=event.timestamp,
        event_ids=tuple(item.split(" ", 1)[0] for _, item in before) + (event.event.id,),
        datasets=(event.event.dataset,),
    )
    return state, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, ttl=lambda params: params.window_seconds)
