"""The worker's lifecycle schedule: retention every hour, a nightly backup and prune, regular restore tests.

What is due is decided from the audit index (the last backup and restore test, successful or
attempted), so the schedule survives restarts and a change of Faust leader, and a run done by
hand from the CLI counts. Retention is cheap and idempotent: it runs every
`retention_every_minutes` of the worker's life. A failed backup or restore test is tried again
after `retry_minutes` (the failure itself is a control event the compliance detectors alert on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.lifecycle import Names, iso
from pipeline.settings import LifecycleSettings

log = logging.getLogger(__name__)
OPERATOR = "secmon-worker"
JOBS = ("retention", "backup", "verify")


@dataclass(frozen=True)
class History:
    """The last successful and the last attempted run of each audited job (None: never)."""

    backup_ok: datetime | None = None
    backup_tried: datetime | None = None
    verify_ok: datetime | None = None
    verify_tried: datetime | None = None


def latest_slot(now: datetime, at: str) -> datetime:
    """The most recent daily `HH:MM` (UTC) at or before now."""
    slot = datetime.combine(now.astimezone(timezone.utc).date(), time.fromisoformat(at), tzinfo=timezone.utc)
    return slot if slot <= now else slot - timedelta(days=1)


def _retry_allowed(tried: datetime | None, now: datetime, cfg: LifecycleSettings) -> bool:
    return tried is None or now - tried >= timedelta(minutes=cfg.retry_minutes)


def retention_due(now: datetime, last_retention: datetime | None, cfg: LifecycleSettings) -> bool:
    """Whether retention runs now (every `retention_every_minutes` of the worker's life). Pure."""
    return last_retention is None or now - last_retention >= timedelta(minutes=cfg.retention_every_minutes)


def backups_due(now: datetime, history: History, cfg: LifecycleSettings) -> list[str]:
    """The audited jobs (backup, verify) to run now, in order. Pure."""
    jobs = []
    if cfg.backup_at is not None:
        slot = latest_slot(now, cfg.backup_at)
        if (history.backup_ok is None or history.backup_ok < slot) and _retry_allowed(history.backup_tried, now, cfg):
            jobs.append("backup")
    if cfg.verify_every_days:
        every = timedelta(days=cfg.verify_every_days)
        if (
            (history.verify_ok is None or now - history.verify_ok >= every)
            and _retry_allowed(history.verify_tried, now, cfg)
            and history.backup_ok is not None
        ):
            jobs.append("verify")
    return jobs


def due(now: datetime, history: History, cfg: LifecycleSettings, last_retention: datetime | None) -> list[str]:
    """Every job to run now, in order. Pure."""
    return ["retention"] * retention_due(now, last_retention, cfg) + backups_due(now, history, cfg)


async def load_history(es: AsyncElasticsearch, names: Names) -> History:
    """Latest backup and restore-test records of the audit index, by outcome."""
    resp = await es.search(
        index=names.record_alias("audit"),
        size=0,
        ignore_unavailable=True,
        allow_no_indices=True,
        query={"terms": {"action": ["backup", "restore_test"]}},
        aggs={
            "action": {
                "terms": {"field": "action", "size": 2},
                "aggs": {
                    "outcome": {
                        "terms": {"field": "outcome", "size": 5},
                        "aggs": {"last": {"max": {"field": "@timestamp"}}},
                    }
                },
            }
        },
    )
    last: dict[tuple[str, str], datetime] = {}
    for a in (resp.get("aggregations") or {}).get("action", {}).get("buckets", []):
        for o in a["outcome"]["buckets"]:
            if o["last"].get("value") is not None:
                last[(a["key"], o["key"])] = datetime.fromtimestamp(o["last"]["value"] / 1000, timezone.utc)

    def latest(action: str, *outcomes: str) -> datetime | None:
        return max((last[(action, o)] for o in outcomes if (action, o) in last), default=None)

    return History(
        backup_ok=latest("backup", "success"),
        backup_tried=latest("backup", "started", "failure"),
        verify_ok=latest("restore_test", "success"),
        verify_tried=latest("restore_test", "started", "failure"),
    )


async def run_job(rec: Any, cfg: LifecycleSettings, job: str, now: datetime) -> tuple[bool, str]:
    """Run one job; (ok, what happened in a line)."""
    from pipeline.lifecycle.prune import prune
    from pipeline.lifecycle.restore_test import verify
    from pipeline.lifecycle.retention import run_retention
    from pipeline.lifecycle.snapshots import run_backup

    if job == "retention":
        r = await run_retention(rec, cfg, now=now)
        return not r.failed, f"retention: {len(r.deleted)} indices deleted, {len(r.failed)} failed"
    if job == "backup":
        b = await run_backup(rec, cfg, now=now)
        if not b.ok:
            return False, f"backup {b.snapshot} failed: {b.reason}"
        pruned = sum(d.action == "delete" for d in await prune(rec, cfg, now=now))
        return True, f"backup {b.snapshot}: {b.indices} indices, {b.documents} documents; {pruned} snapshots pruned"
    v = await verify(rec, cfg, now=now)
    return v.ok, f"restore test of {v.snapshot}: {'succeeded' if v.ok else 'FAILED'}" + (
        f" ({v.reason})" if v.reason else ""
    )


def describe(jobs: list[str], now: datetime) -> str:
    """A log line naming what runs now."""
    return f"lifecycle jobs due at {iso(now)}: {', '.join(jobs)}"
