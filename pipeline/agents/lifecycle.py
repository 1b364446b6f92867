"""Timer (leader only): run the lifecycle jobs that are due (`pipeline.lifecycle.schedule`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline import metrics
from pipeline.lifecycle import utcnow

if TYPE_CHECKING:
    from pipeline.app import Runtime

log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    """Add the schedule timer, unless lifecycle.schedule is off."""
    cfg = rt.settings.lifecycle
    if not cfg.schedule:
        return
    last_retention: list[datetime | None] = [None]

    # on_leader: one worker of the group runs the jobs; a job that is running blocks the next check
    @rt.app.timer(interval=cfg.schedule_check_seconds, on_leader=True)
    async def lifecycle_schedule() -> None:
        from elasticsearch import ApiError, TransportError

        from pipeline.lifecycle import LifecycleError
        from pipeline.lifecycle.cli import session
        from pipeline.lifecycle.schedule import OPERATOR, describe, due, load_history, run_job

        try:
            async with session(rt.settings, OPERATOR) as rec:
                now = utcnow()
                jobs = due(now, await load_history(rec.es, rec.names), cfg, last_retention[0])
                if jobs:
                    log.info(describe(jobs, now))
                for job in jobs:
                    ok, line = await run_job(rec, cfg, job, utcnow())
                    if job == "retention":
                        last_retention[0] = now
                    metrics.LIFECYCLE_JOBS.labels(job=job, outcome="success" if ok else "failure").inc()
                    (log.info if ok else log.error)("scheduled %s", line)
        except (ApiError, TransportError, LifecycleError, OSError) as exc:
            metrics.LIFECYCLE_JOBS.labels(job="schedule", outcome="failure").inc()
            log.error("scheduled lifecycle jobs not run: %s: %s; retrying in %.0fs", type(exc).__name__, exc,
                      cfg.schedule_check_seconds)
