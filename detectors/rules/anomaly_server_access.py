"""An SSH login unusual for the user on that host: network, AS, country, hour, method, failures."""

from __future__ import annotations

from datetime import timedelta

from detectors.anomaly.detector import AnomalyParams, forget_after, make_step
from detectors.anomaly.server import SERVER
from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._ssh import entity

META = DetectorMeta(
    id="anomaly_server_access",
    title="SSH login unusual for the user and host (behaviour model)",
    description="Scores each successful SSH login against the profile of that user on that host (source "
    "network, AS and country against the user's and the host's other users', hour, weekday, "
    "auth method, failures before it) with a PyOD ensemble; high only with two strong "
    "signals together.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("ssh.auth",),
    state=StateSpec(kind="sequence", key=("user.name", "host.name")),
    tags=("attack.lateral_movement", "attack.t1021.004", "anomaly"),
    dedup_period=timedelta(hours=8),
)

_score = make_step(SERVER, lambda e: entity(e, with_user=True))


def step(state, event, params: AnomalyParams):
    """Learn the login into the profile of the user on that host; score it once the model and the profile are ready."""
    return _score(state, event, params)


DETECTOR = Detector(meta=META, params=AnomalyParams, step=step, ttl=forget_after)
