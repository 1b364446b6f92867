"""Backups: snapshot the secmon indices and prove a restore works (prune: `pipeline.lifecycle.prune`).

Core snapshot APIs only (no SLM), so any repository type works: `fs` here (its location must be
under the node's `path.repo`), s3/gcs/azure in production. A snapshot's age is measured from the
`taken_at` secmon writes into its metadata (the injected clock), never from the node's clock.

`verify` restores the latest successful snapshot under a temporary name and compares it with the
live indices. Counts must match for every index that has not been written since the backup
(same max sequence number per shard); sampled documents must have the same checksum as their
live copy unless the live copy changed since (different seq_no/primary term: an alert update)
or was deleted since (retention, purge). The restored copy is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
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
    await _emit(rec, "backup", "started", now, job_id, name, f"backup {name} started")
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
    await _emit(
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


async def _emit(
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


@dataclass
class IndexCheck:
    """Restored copy vs live index: counts, and whether the live index was written since the backup."""

    index: str
    restored: int
    live: int | None
    unchanged: bool

    @property
    def ok(self) -> bool:
        """Counts must agree unless the live index changed (or was deleted) since the backup."""
        return not self.unchanged or self.restored == self.live


@dataclass
class VerifyResult:
    """One restore test."""

    snapshot: str
    job_id: str
    indices: list[IndexCheck] = field(default_factory=list)
    sampled: int = 0
    matched: int = 0
    changed: int = 0
    missing: int = 0
    mismatched: list[str] = field(default_factory=list)
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Restored, every unchanged index counted the same, no sampled checksum differs."""
        return self.reason is None and not self.mismatched and all(c.ok for c in self.indices)

    @property
    def documents(self) -> int:
        """Documents restored."""
        return sum(c.restored for c in self.indices)


def checksum(source: dict[str, Any]) -> str:
    """Checksum of a document's source, independent of key order."""
    text = json.dumps(source, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compare_docs(
    restored: list[dict[str, Any]], live: dict[tuple[str, str], dict[str, Any]], tmp: str, result: VerifyResult
) -> None:
    """Count sampled restored hits as matched, changed since, deleted since, or mismatched. Pure."""
    for hit in restored:
        original = hit["_index"].removeprefix(tmp)
        doc = live.get((original, hit["_id"]))
        result.sampled += 1
        if doc is None or not doc.get("found"):
            result.missing += 1
        elif (doc["_seq_no"], doc["_primary_term"]) != (hit["_seq_no"], hit["_primary_term"]):
            result.changed += 1
        elif checksum(doc["_source"]) == checksum(hit["_source"]):
            result.matched += 1
        else:
            result.mismatched.append(f"{original}/{hit['_id']}")


async def verify(
    rec: Recorder, cfg: LifecycleSettings, *, now: datetime, sample: int | None = None, dry_run: bool = False
) -> VerifyResult:
    """Restore the latest successful snapshot under a temporary name, compare, delete the copy, and
    emit restore_test started and succeeded/failed control events."""
    es, names = rec.es, rec.names
    done = [s for s in await list_snapshots(es, cfg, names) if s.state == "SUCCESS"]
    job_id = f"restore-test-{now.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"
    if not done:
        result = VerifyResult(
            "none",
            job_id,
            reason=f"no successful secmon snapshot in repository "
            f"{cfg.snapshot_repository}; run `secmon backup run` first",
        )
    else:
        result = VerifyResult(done[-1].name, job_id)
    if dry_run or not done:
        if not dry_run:
            await _finish_verify(rec, result, now)
        return result
    snap, tmp = done[-1], f"{names.restore_prefix}{now.astimezone(timezone.utc):%Y%m%d%H%M%S}-"
    await _drop_restores(es, names)  # copies left by a verify that died
    await _emit(rec, "restore_test", "started", now, job_id, snap.name, f"restore test of {snap.name} started")
    try:
        if snap.indices:
            await es.options(request_timeout=LONG_REQUEST).snapshot.restore(
                repository=cfg.snapshot_repository,
                snapshot=snap.name,
                indices=",".join(snap.indices),
                rename_pattern="(.+)",
                rename_replacement=f"{tmp}$1",
                include_aliases=False,
                include_global_state=False,
                wait_for_completion=True,
                index_settings={"index.number_of_replicas": 0, "index.auto_expand_replicas": "false"},
            )
            result.indices = await _compare_counts(es, names, snap, tmp)
            await _compare_sample(es, result, tmp, cfg.restore_sample if sample is None else sample)
    except ApiError as exc:
        result.reason = f"restore of {snap.name} failed: {exc.message}"
    finally:
        await _drop_restores(es, names)
    await _finish_verify(rec, result, now)
    return result


async def _compare_counts(es: AsyncElasticsearch, names: Names, snap: Snapshot, tmp: str) -> list[IndexCheck]:
    live_expr = ",".join(names.all_patterns())
    restored_counts, live_counts = await _counts(es, f"{tmp}*"), await _counts(es, live_expr)
    restored_seq, live_seq = await _max_seq_nos(es, f"{tmp}*"), await _max_seq_nos(es, live_expr)
    checks = []
    for index in snap.indices:
        exists = index in live_seq
        checks.append(
            IndexCheck(
                index,
                restored_counts.get(tmp + index, 0),
                live_counts.get(index, 0) if exists else None,
                exists and live_seq[index] == restored_seq.get(tmp + index),
            )
        )
    return checks


async def _compare_sample(es: AsyncElasticsearch, result: VerifyResult, tmp: str, size: int) -> None:
    if size <= 0:
        return
    seed = int(hashlib.blake2b(result.job_id.encode(), digest_size=4).hexdigest(), 16)
    resp = await es.search(
        index=f"{tmp}*",
        size=min(size, 10_000),
        seq_no_primary_term=True,
        query={"function_score": {"random_score": {"seed": seed, "field": "_seq_no"}}},
    )
    hits = resp["hits"]["hits"]
    if not hits:
        return
    docs = (await es.mget(docs=[{"_index": h["_index"].removeprefix(tmp), "_id": h["_id"]} for h in hits]))["docs"]
    compare_docs(hits, {(d["_index"], d["_id"]): d for d in docs}, tmp, result)


async def _counts(es: AsyncElasticsearch, expr: str) -> dict[str, int]:
    await es.indices.refresh(index=expr, ignore_unavailable=True, allow_no_indices=True)
    resp = await es.search(
        index=expr,
        size=0,
        ignore_unavailable=True,
        allow_no_indices=True,
        aggs={"by_index": {"terms": {"field": "_index", "size": 65536}}},
    )
    return {b["key"]: b["doc_count"] for b in resp["aggregations"]["by_index"]["buckets"]}


async def _max_seq_nos(es: AsyncElasticsearch, expr: str) -> dict[str, tuple[tuple[str, int], ...]]:
    """Per index, (shard, max sequence number) of the primaries: equal values = no write since."""
    resp = await es.indices.stats(index=expr, level="shards", metric="docs")  # wildcards: none is fine
    return {
        name: tuple(
            sorted(
                (sid, copy["seq_no"]["max_seq_no"])
                for sid, copies in data["shards"].items()
                for copy in copies
                if copy["routing"]["primary"]
            )
        )
        for name, data in resp["indices"].items()
    }


async def _drop_restores(es: AsyncElasticsearch, names: Names) -> None:
    await es.options(ignore_status=404).indices.delete(index=f"{names.restore_prefix}*", expand_wildcards="all")


async def _finish_verify(rec: Recorder, result: VerifyResult, now: datetime) -> None:
    status = "succeeded" if result.ok else "failed"
    bad = [f"{c.index}: restored {c.restored}, live {c.live}" for c in result.indices if not c.ok]
    reason = result.reason or ("; ".join(bad + [f"checksum differs: {d}" for d in result.mismatched[:20]]) or None)
    message = (
        f"restore test of {result.snapshot} {status}: {len(result.indices)} indices, {result.documents} "
        f"documents; sample {result.sampled}: {result.matched} identical, {result.changed} changed since, "
        f"{result.missing} deleted since, {len(result.mismatched)} different" + (f"; {reason}" if reason else "")
    )
    await _emit(
        rec,
        "restore_test",
        status,
        now,
        result.job_id,
        result.snapshot,
        message,
        reason=reason,
        details={"documents": result.documents, "indices": len(result.indices), "snapshot": result.snapshot},
    )
