"""A user signs in from a network (autonomous system) they were never seen on (after learning)."""

from __future__ import annotations

from datetime import timedelta

from detectors.base import Detector, DetectorMeta, StateSpec, field_value
from detectors.identity import identity_key
from detectors.rules._first_seen import FirstSeenParams, first_seen_step, forget_after

META = DetectorMeta(
    id="signin_new_asn",
    title="Sign-in from a network (ASN) new for the user",
    description="A successful sign-in from a source.as.number not seen for this user before, once the "
    "learning period is over: a new ISP, hosting provider or VPN exit.",
    version=1,
    severity="low",
    maturity="stable",
    datasets=("app.signin", "aws.cloudtrail", "okta.system"),  # AWS: ConsoleLogin, Okta: user.session.start
    state=StateSpec(kind="first_seen", key=("user.name",)),
    tags=("attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(days=1),
)


def asn(event) -> str | None:
    """`AS<number>` of the sign-in's source, or None when unknown."""
    number = field_value(event, "source.as.number")
    return None if number is None else f"AS{number}"


def step(state, event, params: FirstSeenParams):
    """Learn the user's networks; alert on a new one after the learning period."""
    return first_seen_step(state, event, params, asn, "network")


DETECTOR = Detector(meta=META, params=FirstSeenParams, step=step, key=identity_key, ttl=forget_after)
