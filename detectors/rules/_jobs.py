"""Jobs that must succeed at least every so often (nightly backups, 90-day restore tests).

A job is watched when it is listed in the detector's `jobs` parameter (then from the first tick,
even if it never ran: its absence is the problem) or, with `watch_unlisted`, from its first
control event. Only `succeeded` resets the clock; `failed` runs are remembered so the alert can
say why the job is late. The entity key is the job name (see `_clock.job_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors.base import Finding, State
from detectors.rules._clock import beat, check, iso, job_name, next_due, silence, utc
from detectors.rules._control import control_of, finding, job_entity
from schemas.event import Event


def max_age_of(params: Any, job: str) -> float:
    """Seconds allowed between two successes of `job` (its override, else the default)."""
    age: timedelta = params.max_age_by_job.get(job, params.max_age)
    return age.total_seconds()


def watched(params: Any, job: str) -> bool:
    """Whether the detector watches `job`."""
    return job in params.jobs or params.watch_unlisted


@dataclass(frozen=True)
class JobWatch:
    """The heartbeat of one kind of control job."""

    kind: str  # control kind, e.g. backup
    noun: str  # for messages, e.g. "backup"
    resource_type: str  # alert entity type, e.g. backup_job

    def start(self, job: str, now: datetime, params: Any) -> State | None:
        """A listed job's clock starts at its first tick; other jobs wait for their first event."""
        return {"job": job, "since": now.timestamp()} if job in params.jobs else None

    def step(self, state: State | None, event: Event, params: Any) -> tuple[State | None, list[Finding]]:
        """Check the deadline as of this event, then apply it (success resets the clock)."""
        control = control_of(event, self.kind)
        job = job_name(control.job_id) if control else None
        if job is None or not watched(params, job):
            return state, []
        ts, max_age = event.timestamp.timestamp(), max_age_of(params, job)
        state = {**(state or {}), "job": job}
        state, missed = check(state, ts, max_age)
        findings = [self.missed(state, missed, max_age)] if missed is not None else []
        cleared = False
        if control.status == "succeeded":
            state, cleared = beat(state, ts)
        if control.status == "failed" and ts > state.get("last", float("-inf")):
            state["fail"] = [ts, control.job_id, (control.reason or "no reason given")[:200]]
        if cleared:
            message = f"{self.noun} job {job} succeeded again at {iso(ts)} (run {control.job_id})"
            findings.append(finding(message, job_entity(self.resource_type, job), event.timestamp, event, resolve=True))
        return state, findings

    def tick(self, state: State | None, now: datetime, params: Any) -> tuple[State | None, list[Finding]]:
        """Raise the alert once when the job's deadline passes without a success."""
        if state is None:
            return None, []
        max_age = max_age_of(params, state["job"])
        state, missed = check(state, now.timestamp(), max_age)
        return state, [self.missed(state, missed, max_age)] if missed is not None else []

    def deadline(self, state: State, params: Any) -> float | None:
        """When the job's deadline passes without a success (None once it was reported)."""
        return next_due(state, max_age_of(params, state["job"]))

    def missed(self, state: State, due: float, max_age: float) -> Finding:
        """The finding of a missed deadline, dated at the deadline (no event is behind an absence)."""
        job = state["job"]
        message = f"no successful {self.noun} of job {job} by {iso(due)} ({silence(state, max_age)})"
        fail = state.get("fail")
        if fail and fail[0] > state.get("last", float("-inf")):
            message += f"; run {fail[1]} failed at {iso(fail[0])}: {fail[2]}"
        return finding(message, job_entity(self.resource_type, job), utc(due))
