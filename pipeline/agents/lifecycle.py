"""Timers (leader only): run the lifecycle jobs that are due (`pipeline.lifecycle.schedule`).

Retention has its own timer, so a long backup or restore test never holds back the deletions the
policy promises. Every job is guarded: a failure is logged and counted, never raised, because an
exception out of a Faust timer crashes the worker (and the next leader would crash the same way).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline import metrics
from pipeline.lifecycle import utcnow

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    """Add the schedule timers, unless lifecycle.schedule is off."""
    cfg = rt.settings.lifecycle
    if not cfg.schedule:
        return
    last_retention: list[datetime | None] = [None]

    async def run_due(jobs_of) -> None:
        from pipeline.lifecycle.audit import session
        from pipeline.lifecycle.schedule import OPERATOR, describe, run_job

        try:
            async with session(rt.settings, OPERATOR) as rec:
                now = utcnow()
                jobs = await jobs_of(rec, now)
                if jobs:
                    log.info(describe(jobs, now))
                for job in jobs:
                    await _guarded(job, run_job(rec, cfg, job, utcnow()))
                    if job == "retention":
                        last_retention[0] = now
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            metrics.LIFECYCLE_JOBS.labels(job="schedule", outcome="failure").inc()
            log.error(
                "scheduled lifecycle jobs not run: %s: %s; retrying in %.0fs",
                type(exc).__name__,
                exc,
                cfg.schedule_check_seconds,
            )

    async def retention_jobs(rec, now: datetime) -> list[str]:
        from pipeline.lifecycle.schedule import retention_due

        return ["retention"] if retention_due(now, last_retention[0], cfg) else []

    async def backup_jobs(rec, now: datetime) -> list[str]:
        from pipeline.lifecycle.schedule import backups_due, load_history

        return backups_due(now, await load_history(rec.es, rec.names), cfg)

    # on_leader: one worker of the group runs the jobs; a running job delays its own timer's next check
    @rt.app.timer(interval=cfg.schedule_check_seconds, on_leader=True)
    async def lifecycle_retention() -> None:
        await run_due(retention_jobs)

    @rt.app.timer(interval=cfg.schedule_check_seconds, on_leader=True)
    async def lifecycle_backups() -> None:
        await run_due(backup_jobs)


async def _guarded(job: str, run) -> None:
    """Run one job; log and count its outcome, whatever it raises."""
    try:
        ok, line = await run
    except Exception as exc:  # noqa: BLE001 - see the module docstring
        ok, line = False, f"{job} failed: {type(exc).__name__}: {exc}"
    metrics.LIFECYCLE_JOBS.labels(job=job, outcome="success" if ok else "failure").inc()
    (log.info if ok else log.error)("scheduled %s", line)
