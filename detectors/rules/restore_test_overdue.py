"""The last successful restore test of a backup is older than allowed (90 days by default)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._clock import Duration
from detectors.rules._control import job_key
from detectors.rules._jobs import JobWatch

META = DetectorMeta(
    id="restore_test_overdue",
    title="Restore test overdue",
    description="No successful restore test of the backups for longer than allowed: a backup never "
    "restored is not known to work. Timed: the alert is dated at the deadline (jobs listed in "
    "`jobs` are watched from the first tick) and resolves at the next successful restore test; "
    "a failed test does not reset the clock and is named in the alert.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="last_seen", key=("secmon.control.job_id",)),
    tags=("policy.restore_tests",),
    dedup_period=timedelta(days=90),
)
WATCH = JobWatch(kind="restore_test", noun="restore test", resource_type="restore_test_job")


class Params(BaseModel):
    """Which restore-test jobs must succeed, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: list[str] = Field(
        default_factory=list,
        description="Restore-test job names watched from the start "
        "(the run id without its trailing date/number parts, e.g. restore-test).",
    )
    max_age: Duration = Field(timedelta(days=90), description="Longest time between two successful tests.")
    max_age_by_job: dict[str, Duration] = Field(default_factory=dict, description="Per-job overrides.")
    watch_unlisted: bool = Field(True, description="Also watch jobs not in `jobs`, from their first event.")


def step(state, event, params: Params):
    """A restore-test event: check the deadline as of it; a success resets the clock."""
    return WATCH.step(state, event, params)


def tick(state, now, params: Params):
    """Raise the alert once the deadline passed without a successful test."""
    return WATCH.tick(state, now, params)


DETECTOR = Detector(
    meta=META,
    params=Params,
    step=step,
    key=job_key("restore_test"),
    tick=tick,
    seeds=lambda params: list(params.jobs),
    start=WATCH.start,
    deadline=WATCH.deadline,
)
