"""An employee's access to customer data unusual for them: workspace, volume, hour, ticket."""

from __future__ import annotations

from datetime import timedelta

from detectors.anomaly.detector import AnomalyParams, forget_after, make_step
from detectors.anomaly.staff import STAFF
from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._staff import staff_entity

META = DetectorMeta(
    id="anomaly_staff_access",
    title="Staff access unusual for the employee (behaviour model)",
    description="Scores each staff access to customer data against the employee's own profile (hour and "
    "weekday in their timezone, workspaces opened before and by their team, records read "
    "against their usual volume, workspaces touched today, ticket, action) with a PyOD "
    "ensemble; high only with two strong signals together.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("staff.access",),
    state=StateSpec(kind="sequence", key=("user.name",)),
    tags=("policy.staff_access_justified", "attack.collection", "attack.t1213", "anomaly"),
    dedup_period=timedelta(hours=8),
)

_score = make_step(STAFF, staff_entity)


def step(state, event, params: AnomalyParams):
    """Learn the access into the employee's profile; score it once the model and the profile are ready."""
    return _score(state, event, params)


DETECTOR = Detector(meta=META, params=AnomalyParams, step=step, ttl=forget_after)
