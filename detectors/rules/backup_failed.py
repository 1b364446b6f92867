"""A backup run failed; the alert resolves when the same job next succeeds."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._clock import job_name
from detectors.rules._control import control_of, finding, job_entity, job_key
from schemas.event import Event

META = DetectorMeta(
    id="backup_failed",
    title="Backup run failed",
    description="A backup control event with status failed. The job is the run id without its trailing "
    "run-specific parts (bk-20261130-0200 -> bk); the alert resolves when a later run of the "
    "same job succeeds, and further failures before that update it.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="last_seen", key=("secmon.control.job_id",)),
    tags=("policy.backups",),
    dedup_period=timedelta(days=7),
)


class Params(BaseModel):
    """No parameters: every failed backup run counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def step(state, event: Event, params: Params):
    """Failure: a finding (unless a later success is already known). Success: resolve the alert."""
    control = control_of(event, "backup", ("succeeded", "failed"))
    if control is None:
        return state, []
    state = dict(state or {})
    ts = event.timestamp.timestamp()
    job = job_name(control.job_id)
    entity = job_entity("backup_job", job)  # type: ignore[arg-type]  # no job_id: no key (job_key), so no step
    if control.status == "succeeded":
        state["ok"] = max(ts, state.get("ok", ts))
        failed = state.pop("failed", None)
        if failed is None:
            return state, []
        message = f"backup job {job} succeeded again (run {control.job_id}) after run {failed} failed"
        return state, [finding(message, entity, event.timestamp, event, resolve=True)]
    if ts < state.get("ok", ts):
        return state, []  # a failure replayed after a later success is history, not an open problem
    state["failed"] = control.job_id
    reason = f": {control.reason[:300]}" if control.reason else " (no reason given)"
    return state, [finding(f"backup run {control.job_id} of job {job} failed{reason}", entity, event.timestamp, event)]


DETECTOR = Detector(meta=META, params=Params, step=step, key=job_key("backup", ("succeeded", "failed")))
