"""Restore tests: prove the latest backup restores and holds what the live indices hold.

`verify` restores the latest successful snapshot under a temporary name and compares it with the
live indices. Counts must match for every index that has not been written since the backup
(same max sequence number per shard); sampled documents must have the same checksum as their
live copy unless the live copy changed since (different seq_no/primary term: an alert update)
or was deleted since (retention, purge). The restored copy is deleted afterwards.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from pipeline.lifecycle import Names
from pipeline.lifecycle.audit import Recorder
from pipeline.lifecycle.snapshots import LONG_REQUEST, Snapshot, emit_control, list_snapshots
from pipeline.settings import LifecycleSettings


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
    await emit_control(rec, "restore_test", "started", now, job_id, snap.name, f"restore test of {snap.name} started")
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
    await emit_control(
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
