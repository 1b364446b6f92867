"""Many failed sign-ins for one user in a short window: password guessing against an account."""

from __future__ import annotations

from datetime import timedelta

from detectors.base import Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._signin_failures import FailureParams, count_failures
from schemas.event import User

META = DetectorMeta(
    id="signin_bruteforce_user",
    title="Brute force against one user account",
    description="N failed sign-ins for the same user within the window, from any number of IPs.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="sliding_window", key=("user.name",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110.001"),
    dedup_period=timedelta(hours=1),
)


def step(state, event, params: FailureParams):
    """Count failures for the event's user."""
    if event.event.outcome != "failure":
        return state, []  # before building the entity: most sign-ins succeed
    entity = Entity(user=User(name=event.user.name), organization=event.organization)
    return count_failures(state, event, params, entity, f"for user {event.user.name}")


DETECTOR = Detector(meta=META, params=FailureParams, step=step, ttl=lambda params: params.window_seconds)
