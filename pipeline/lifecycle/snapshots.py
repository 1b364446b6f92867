"""Backups: snapshot the secmon indices (restore tests: `pipeline.lifecycle.restore_test`; prune:
`pipeline.lifecycle.prune`).

Core snapshot APIs only (no SLM), so any repository type works: `fs` here (its location must be
under the node's `path.repo`), s3/gcs/azure in production. A snapshot's age is measured from the
`taken_at` secmon writes into its metadata (the injected clock), never from the node's clock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from pipeline.lifecycle import LifecycleError, Names, iso
from pipeline.lifecycle.audit import Recorder, control_event
from pipeline.settings import LifecycleSettings
from schemas.lifecycle import AuditOutcome

log = logging.getLogger(__name__)
MANAGED_BY = "secmon"
LONG_REQUEST = 3600.0  # seconds: a restore waits for every shard
MAX_WAIT = 6 * 3600.0  # seconds a backup run waits for its snapshot before reporting it failed


@dataclass(frozen=True)
class Snapshot:
    """A snapshot secmon took (others in the same repository are never touched)."""

    name: str
    state: str
    taken_at: datetime
    indices: tuple[str, ...]
    job_id: str
    reason: str | None = None

    @classmethod
    def from_es(cls, raw: dict[str, Any]) -> Snapshot:
        """From one entry of GET _snapshot/<repo>/*."""
        meta = raw.get("metadata") or {}
        taken = meta.get("taken_at")
        taken_at = (
            datetime.fromisoformat(taken.replace("Z", "+00:00"))
            if taken
            else datetime.fromtimestamp(raw.get("start_time_in_millis", 0) / 1000, tz=timezone.utc)
        )
        failures = raw.get("failures") or []
        reason = "; ".join(f"{f.get('index')}[{f.get('shard_id')}]: {f.get('reason')}" for f in failures[:5]) or None
        return cls(
            raw["snapshot"],
            raw.get("state", "UNKNOWN"),
            taken_at,
            tuple(sorted(raw.get("indices", []))),
            meta.get("job_id", raw["snapshot"]),
            reason,
        )


async def ensure_repository(es: AsyncElasticsearch, cfg: LifecycleSettings) -> None:
    """Register the repository, or update it when its settings changed (the node verifies access)."""
    settings = dict(cfg.snapshot_settings)
    if cfg.snapshot_type == "fs":
        settings["location"] = cfg.snapshot_location
    current = await es.options(ignore_status=404).snapshot.get_repository(name=cfg.snapshot_repository)
    found = current.body.get(cfg.snapshot_repository) if current.meta.status == 200 else None
    if found and found.get("type") == cfg.snapshot_type and found.get("settings") == settings:
        return
    try:
        await es.snapshot.create_repository(
            name=cfg.snapshot_repository, repository={"type": cfg.snapshot_type, "settings": settings}
        )
    except ApiError as exc:
        raise LifecycleError(
            f"cannot register snapshot repository {cfg.snapshot_repository!r} ({cfg.snapshot_type}, {settings}): "
            f"{exc.message}. For fs, lifecycle.snapshot_location must be under the node's path.repo "
            "(see _nodes/settings); for others, the node needs the repository plugin and credentials."
        ) from None
    log.info("registered snapshot repository %s (%s)", cfg.snapshot_repository, cfg.snapshot_type)


async def list_snapshots(es: AsyncElasticsearch, cfg: LifecycleSettings, names: Names) -> list[Snapshot]:
    """This deployment's snapshots in the repository, oldest first (none when it is not registered)."""
    resp = await es.options(ignore_status=404).snapshot.get(repository=cfg.snapshot_repository, snapshot="*")
    if resp.meta.status == 404:
        return []
    mine = [
        raw
        for raw in resp.body.get("snapshots", [])
        if (raw.get("metadata") or {}).get("managed_by") == MANAGED_BY
        and (raw.get("metadata") or {}).get("prefix") == names.prefix
    ]
    return sorted((Snapshot.from_es(raw) for raw in mine), key=lambda s: (s.taken_at, s.name))


def snapshot_name(prefix: str, now: datetime) -> str:
    """`<prefix>-YYYY.MM.DD-hhmmss` (snapshot names must be lowercase)."""
    return f"{prefix}-{now.astimezone(timezone.utc):%Y.%m.%d-%H%M%S}"


@dataclass
class BackupResult:
    """One backup run: the snapshot, whether it succeeded, the documents it holds (at start)."""

    snapshot: str
    ok: bool
    documents: int
    indices: int = 0
    reason: str | None = None
    resumed: bool = False


async def run_backup(
    rec: Recorder, cfg: LifecycleSettings, *, now: datetime, dry_run: bool = False, poll_s: float = 0.5
) -> BackupResult:
    """Snapshot every secmon index; emit backup started and succeeded/failed control events.

    A snapshot still running (a run that died while ES went on) is waited for instead of
    starting a second one.
    """
    es, names = rec.es, rec.names
    patterns = ",".join(names.all_patterns())
    documents = int((await es.count(index=patterns, ignore_unavailable=True, allow_no_indices=True))["count"])
    if dry_run:
        return BackupResult(snapshot_name(names.prefix, now), True, documents)
    try:
        await ensure_repository(es, cfg)
        running = [s for s in await list_snapshots(es, cfg, names) if s.state == "IN_PROGRESS"]
    except (LifecycleError, ApiError) as exc:  # a backup that cannot start is a failed backup: say so
        name = snapshot_name(names.prefix, now)
        result = BackupResult(name, False, documents, reason=str(exc))
        await _finish_backup(rec, result, now, f"backup-{name}")
        return result
    if running:
        name, job_id, resumed = running[-1].name, running[-1].job_id, True
    else:
        name, resumed = snapshot_name(names.prefix, now), False
        job_id, refused = await _start_snapshot(rec, cfg, name, patterns, now)
        if refused is not None:
            result = BackupResult(name, False, documents, reason=refused)
            await _finish_backup(rec, result, now, job_id)
            return result
    snap = await _wait(es, cfg, name, poll_s)
    reason = (
        None
        if snap.state == "SUCCESS"
        else f"snapshot still running after {MAX_WAIT / 3600:.0f} h (the next run waits for it)"
        if snap.state == "IN_PROGRESS"
        else f"snapshot ended {snap.state}: {snap.reason}"
    )
    result = BackupResult(name, snap.state == "SUCCESS", documents, len(snap.indices), reason, resumed)
    await _finish_backup(rec, result, now, job_id)
    return result


async def _start_snapshot(
    rec: Recorder, cfg: LifecycleSettings, name: str, patterns: str, now: datetime
) -> tuple[str, str | None]:
    """Emit `backup started` and ask for the snapshot; (job id, why it was refused or None)."""
    job_id = f"backup-{name}"
    await emit_control(rec, "backup", "started", now, job_id, name, f"backup {name} started")
    try:
        await rec.es.snapshot.create(
            repository=cfg.snapshot_repository,
            snapshot=name,
            indices=patterns,
            ignore_unavailable=True,
            include_global_state=False,
            wait_for_completion=False,
            metadata={
                "managed_by": MANAGED_BY,
                "prefix": rec.names.prefix,
                "job_id": job_id,
                "taken_at": iso(now),
                "operator": rec.operator,
            },
        )
    except ApiError as exc:
        return job_id, f"snapshot request refused: {exc.message}"
    return job_id, None


async def _wait(es: AsyncElasticsearch, cfg: LifecycleSettings, name: str, poll_s: float) -> Snapshot:
    """The snapshot once it ended, or still IN_PROGRESS after MAX_WAIT (the next run waits for it again)."""
    deadline = asyncio.get_running_loop().time() + MAX_WAIT
    while True:
        resp = await es.snapshot.get(repository=cfg.snapshot_repository, snapshot=name)
        snap = Snapshot.from_es(resp["snapshots"][0])
        if snap.state != "IN_PROGRESS" or asyncio.get_running_loop().time() > deadline:
            return snap
        await asyncio.sleep(poll_s)
        poll_s = min(poll_s * 1.5, 10.0)


async def _finish_backup(rec: Recorder, result: BackupResult, now: datetime, job_id: str) -> None:
    status = "succeeded" if result.ok else "failed"
    message = f"backup {result.snapshot} {status}: {result.indices} indices, {result.documents} documents" + (
        f"; {result.reason}" if result.reason else ""
    )
    await emit_control(
        rec,
        "backup",
        status,
        now,
        job_id,
        result.snapshot,
        message,
        reason=result.reason,
        details={"documents": result.documents, "indices": result.indices, "snapshot": result.snapshot},
    )


async def emit_control(
    rec: Recorder,
    kind: str,
    status: str,
    now: datetime,
    job_id: str,
    snapshot: str,
    message: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    event = control_event(
        kind, status, now=now, job_id=job_id, backup_id=snapshot, user=rec.operator, reason=reason, details=details
    )
    outcome: AuditOutcome = "started" if status == "started" else "success" if status == "succeeded" else "failure"
    await rec.record(
        "backup" if kind == "backup" else "restore_test",
        outcome,
        now=now,
        job_id=job_id,
        target=snapshot,
        message=message,
        control=event,
        documents=(details or {}).get("documents"),
    )
