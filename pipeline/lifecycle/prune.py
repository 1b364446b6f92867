"""Prune: delete snapshots past their retention unless a legal hold keeps them, and say so.

Every deletion is announced by a `backup deleted` control event: `backup_purge_overdue` follows
named snapshots from `backup succeeded` to `backup deleted`, so an event that never arrives keeps
a deleted workspace "in the backups" forever. Hence: the intent (with its event) is audited before
the delete; the next prune finishes any intent whose snapshot the repository confirms missing
(the run died in between), and re-sends any event Kafka did not take (the audit record says so).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pipeline.lifecycle import iso
from pipeline.lifecycle.audit import Recorder, control_event
from pipeline.lifecycle.holds import covering, load_holds
from pipeline.lifecycle.snapshots import Snapshot, list_snapshots
from pipeline.settings import LifecycleSettings
from schemas.lifecycle import LegalHold

RECOVER = timedelta(days=30)  # how far back prune looks for deletions left unrecorded or unannounced


@dataclass(frozen=True)
class Decision:
    """What prune does with one snapshot."""

    snapshot: Snapshot
    action: Literal["delete", "keep", "hold"]
    holds: tuple[str, ...] = ()


def prune_plan(snapshots: list[Snapshot], holds: list[LegalHold], now: datetime, days: int) -> list[Decision]:
    """Delete snapshots older than `days` unless an open hold covers one of their indices. Pure."""
    decisions = []
    for snap in snapshots:
        if snap.state == "IN_PROGRESS" or now - snap.taken_at < timedelta(days=days):
            decisions.append(Decision(snap, "keep"))
            continue
        held = tuple(covering(holds, snap.indices))
        decisions.append(Decision(snap, "hold", held) if held else Decision(snap, "delete"))
    return decisions


async def prune(rec: Recorder, cfg: LifecycleSettings, *, now: datetime, dry_run: bool = False) -> list[Decision]:
    """Delete expired, unheld snapshots; audit each deletion (with a `backup deleted` control event) and each
    hold that kept one."""
    holds = await load_holds(rec.es, rec.names)
    snaps = await list_snapshots(rec.es, cfg, rec.names)
    decisions = prune_plan(snaps, holds, now, cfg.snapshot_retention_days)
    if dry_run:
        return decisions
    for d in decisions:
        age = f"taken {iso(d.snapshot.taken_at)}, older than {cfg.snapshot_retention_days} days"
        if d.action == "hold":
            await rec.record(
                "snapshot_hold",
                "kept",
                now=now,
                job_id=d.snapshot.job_id,
                target=d.snapshot.name,
                hold_ids=d.holds,
                message=f"{d.snapshot.name} ({age}) kept by legal hold {', '.join(d.holds)}",
                dedup=("snapshot_hold", d.snapshot.name, d.holds),
            )
        elif d.action == "delete":
            event = deleted_event(rec, d.snapshot, now)
            await rec.record(
                "snapshot_delete",
                "started",
                now=now,
                job_id=d.snapshot.job_id,
                target=d.snapshot.name,
                message=f"deleting snapshot {d.snapshot.name} ({age})",
                control=event,
                send=False,
            )
            await rec.es.options(ignore_status=404).snapshot.delete(
                repository=cfg.snapshot_repository, snapshot=d.snapshot.name
            )
            await rec.record(
                "snapshot_delete",
                "success",
                now=now,
                job_id=d.snapshot.job_id,
                target=d.snapshot.name,
                message=f"deleted snapshot {d.snapshot.name} ({age})",
                control=event,
            )
    await _recover(rec, cfg, now, {d.snapshot.name for d in decisions})
    return decisions


def deleted_event(rec: Recorder, snap: Snapshot, now: datetime) -> dict[str, Any]:
    """`backup deleted`: backup_purge_overdue sees the data the snapshot held leave the backups."""
    return control_event(
        "backup",
        "deleted",
        now=now,
        job_id=snap.job_id,
        backup_id=snap.name,
        user=rec.operator,
        details={"indices": len(snap.indices), "snapshot": snap.name, "taken_at": snap.taken_at},
    )


async def _recover(rec: Recorder, cfg: LifecycleSettings, now: datetime, handled: set[str]) -> None:
    """Finish deletions a dead run left unrecorded, and re-send `backup deleted` events Kafka did not take
    (`handled`: snapshots this run listed, whose records are fresh)."""
    resp = await rec.es.search(
        index=rec.names.record_alias("audit"),
        size=1000,
        ignore_unavailable=True,
        sort=[{"@timestamp": "desc"}],
        query={
            "bool": {
                "filter": [
                    {"term": {"action": "snapshot_delete"}},
                    {"range": {"@timestamp": {"gte": iso(now - RECOVER)}}},
                ]
            }
        },
    )
    hits = [h for h in resp["hits"]["hits"] if h["_source"]["target"] not in handled and h["_source"].get("control")]
    done = {h["_source"]["target"] for h in hits if h["_source"]["outcome"] == "success"}
    for hit in hits:
        r = hit["_source"]
        if r["outcome"] == "started" and r["target"] not in done and await _gone(rec, cfg, r["target"]):
            done.add(r["target"])
            await rec.record(
                "snapshot_delete",
                "success",
                now=now,
                job_id=r["job_id"],
                target=r["target"],
                message=f"deleted snapshot {r['target']} (by a prune that stopped before recording it)",
                control=r["control"],
            )
        elif r["outcome"] == "success" and r.get("kafka_delivered") is False and rec.sink is not None:
            if await asyncio.to_thread(rec.sink.send, r["control"]):
                await rec.es.update(index=hit["_index"], id=hit["_id"], doc={"kafka_delivered": True})


async def _gone(rec: Recorder, cfg: LifecycleSettings, name: str) -> bool:
    """True only when the repository answers that the snapshot does not exist (not for a missing repository)."""
    resp = await rec.es.options(ignore_status=404).snapshot.get(repository=cfg.snapshot_repository, snapshot=name)
    error = resp.body.get("error") if isinstance(resp.body, dict) else None
    return resp.meta.status == 404 and isinstance(error, dict) and error.get("type") == "snapshot_missing_exception"
