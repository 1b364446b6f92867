"""No successful backup of a job for its schedule plus grace (26 h for a nightly job by default)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._clock import Duration
from detectors.rules._control import job_key
from detectors.rules._jobs import JobWatch

META = DetectorMeta(
    id="backup_missing",
    title="Backup missing: no successful backup in time",
    description="A backup job has not succeeded for longer than its schedule plus grace. Timed: the "
    "alert is dated at the deadline, also when nothing at all arrives (jobs listed in `jobs` "
    "are watched from the first tick), and resolves at the job's next success.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="last_seen", key=("secmon.control.job_id",)),
    tags=("policy.backups",),
    dedup_period=timedelta(days=30),
)
WATCH = JobWatch(kind="backup", noun="backup", resource_type="backup_job")


class Params(BaseModel):
    """Which backup jobs must succeed, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: list[str] = Field(
        default_factory=list,
        description="Job names watched from the start, even if they "
        "never run (the run id without its trailing date/number parts, e.g. bk).",
    )
    max_age: Duration = Field(timedelta(hours=26), description="Schedule plus grace: 26h for a nightly job.")
    max_age_by_job: dict[str, Duration] = Field(
        default_factory=dict, description="Per-job overrides, e.g. {weekly-archive: 8d}."
    )
    watch_unlisted: bool = Field(True, description="Also watch jobs not in `jobs`, from their first event.")


def step(state, event, params: Params):
    """A backup event: check the deadline as of it; a success resets the clock and clears the alert."""
    return WATCH.step(state, event, params)


def tick(state, now, params: Params):
    """Raise the alert once the deadline passed without a success."""
    return WATCH.tick(state, now, params)


# `backup deleted` (a pruned snapshot) says nothing about the job's runs
DETECTOR = Detector(
    meta=META,
    params=Params,
    step=step,
    key=job_key("backup", ("started", "succeeded", "failed")),
    tick=tick,
    seeds=lambda params: list(params.jobs),
    start=WATCH.start,
    deadline=WATCH.deadline,
)
