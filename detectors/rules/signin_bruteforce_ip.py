"""Many failed sign-ins from one IP in a short window: a guessing client, whatever the users."""

from __future__ import annotations

from datetime import timedelta

from detectors.base import Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._signin_failures import FailureParams, count_failures
from schemas.event import Endpoint

META = DetectorMeta(
    id="signin_bruteforce_ip",
    title="Brute force from one source IP",
    description="N failed sign-ins from the same source IP within the window, for any users.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110"),
    dedup_period=timedelta(hours=1),
)


def step(state, event, params: FailureParams):
    """Count failures from the event's source IP."""
    if event.event.outcome != "failure":
        return state, []  # before building the entity: most sign-ins succeed
    entity = Entity(source=Endpoint(ip=event.source.ip, geo=event.source.geo, **{"as": event.source.as_}))
    return count_failures(state, event, params, entity, f"from {event.source.ip}")


DETECTOR = Detector(meta=META, params=FailureParams, step=step, ttl=lambda params: params.window_seconds)
