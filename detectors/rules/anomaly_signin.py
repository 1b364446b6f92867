"""A sign-in unusual for the user: a behaviour model over hours, devices, networks, places and MFA."""

from __future__ import annotations

from datetime import timedelta

from detectors.anomaly.detector import AnomalyParams, forget_after, make_step
from detectors.anomaly.signin import SIGNIN
from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._mfa import user_key
from detectors.rules._signin import user_entity

META = DetectorMeta(
    id="anomaly_signin",
    title="Sign-in unusual for the user (behaviour model)",
    description="Scores each successful app sign-in against the user's own profile (hour and weekday in "
    "their timezone, device, browser and OS, AS number and country against the user's and "
    "their workspace's, travel speed, failures before it, MFA habit) with a PyOD ensemble. "
    "High only when the score passes the alert budget with two strong signals together; "
    "one unusual thing alone is low-severity evidence.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="sequence", key=("user.name",)),
    tags=("attack.initial_access", "attack.t1078", "anomaly"),
    dedup_period=timedelta(hours=6),
)


_score = make_step(SIGNIN, user_entity)


def step(state, event, params: AnomalyParams):
    """Learn the sign-in into the user's profile; score it once the model and the profile are ready."""
    return _score(state, event, params)


DETECTOR = Detector(meta=META, params=AnomalyParams, step=step, key=user_key, ttl=forget_after)
