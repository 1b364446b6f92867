"""Deletion receipts: the proof of one workspace purge, written before the first delete and updated
after each page, so a purge that dies is resumed under the same receipt id (see `purge.py`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.lifecycle import Names, digest
from pipeline.lifecycle.audit import Recorder, control_event
from pipeline.lifecycle.holds import covering, load_holds
from pipeline.lifecycle.snapshots import list_snapshots
from pipeline.settings import LifecycleSettings
from schemas.lifecycle import DeletionReceipt, IndexCount


def receipt_id(workspace: str, request_id: str) -> str:
    """Deterministic receipt id of one deletion request."""
    return f"del-{digest(workspace, request_id)}"


def new_receipt(
    workspace: str, request_id: str, requested_at: datetime, now: datetime, operator: str
) -> DeletionReceipt:
    return DeletionReceipt(
        timestamp=now,
        receipt_id=receipt_id(workspace, request_id),
        workspace=workspace,
        request_id=request_id,
        status="in_progress",
        operator=operator,
        requested_at=requested_at,
        started_at=now,
    )


async def start(rec: Recorder, receipt: DeletionReceipt, new: bool, now: datetime) -> DeletionReceipt:
    """Write the receipt before the first delete; announce a new request (a resumed one was announced)."""
    receipt = receipt.model_copy(update={"status": "in_progress", "reason": None})
    await save(rec, receipt, refresh=True)
    if new:
        await rec.record(
            "purge",
            "started",
            now=now,
            job_id=receipt.receipt_id,
            target=receipt.workspace,
            message=f"purge of workspace {receipt.workspace} requested at {receipt.requested_at.isoformat()}",
            control=_deletion_event(receipt, "requested", now),
        )
    return receipt


async def find_receipt(
    es: AsyncElasticsearch, names: Names, workspace: str, request_id: str | None
) -> DeletionReceipt | None:
    """The receipt of this request, or else the workspace's latest receipt."""
    alias = names.record_alias("receipts")
    if request_id is None:
        resp = await es.search(
            index=alias,
            query={"term": {"workspace": workspace}},
            size=1,
            sort=[{"started_at": "desc"}],
            ignore_unavailable=True,
            source=False,
        )
        hits = resp["hits"]["hits"]
        if not hits:
            return None
        rid = hits[0]["_id"]
    else:
        rid = receipt_id(workspace, request_id)
    # GET is realtime: a search may still see a version from before the last per-page update
    resp = await es.options(ignore_status=404).get(index=alias, id=rid)
    return DeletionReceipt.model_validate(resp["_source"]) if resp.get("found") else None


def with_counts(receipt: DeletionReceipt, counts: Counter, passes: int) -> DeletionReceipt:
    return receipt.model_copy(
        update={
            "indices": [IndexCount(index=i, documents=n) for i, n in sorted(counts.items())],
            "documents": sum(counts.values()),
            "passes": passes,
        }
    )


async def finish(rec: Recorder, lc: LifecycleSettings, receipt: DeletionReceipt, now: datetime) -> DeletionReceipt:
    snaps = [s for s in await list_snapshots(rec.es, lc, rec.names) if s.taken_at <= now]
    held = covering(await load_holds(rec.es, rec.names), [i for s in snaps for i in s.indices])
    ok = receipt.remaining == 0
    receipt = receipt.model_copy(
        update={
            "status": "completed" if ok else "failed",
            "completed_at": now if ok else None,
            "reason": None
            if ok
            else f"{receipt.remaining} documents still present after {receipt.passes} passes "
            "(is something still writing this workspace's data?)",
            "snapshots_with_data": [s.name for s in snaps],
            "snapshots_held": held,
            "snapshots_expire_by": (
                max(s.taken_at for s in snaps) + timedelta(days=lc.snapshot_retention_days)
                if snaps and not held
                else None
            ),
        }
    )
    await save(rec, receipt, refresh=True)
    status = "completed" if ok else "failed"
    counts = ", ".join(f"{c.index}: {c.documents}" for c in receipt.indices) or "nothing found"
    await rec.record(
        "purge",
        "success" if ok else "failure",
        now=now,
        job_id=receipt.receipt_id,
        target=receipt.workspace,
        documents=receipt.documents,
        message=f"purge of workspace {receipt.workspace} {status}: {receipt.documents} documents "
        f"({counts})" + (f"; {receipt.reason}" if receipt.reason else ""),
        control=_deletion_event(receipt, status, now),
    )
    return receipt


async def fail(rec: Recorder, receipt: DeletionReceipt, exc: Exception, now: datetime) -> None:
    """Record an interrupted purge as failed (the next run resumes it under the same receipt id)."""
    failed = receipt.model_copy(update={"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:2000]})
    await save(rec, failed, refresh=True)
    await rec.record(
        "purge",
        "failure",
        now=now,
        job_id=failed.receipt_id,
        target=failed.workspace,
        message=f"purge of workspace {failed.workspace} interrupted: {failed.reason}; run it again to resume",
        control=_deletion_event(failed, "failed", now),
        dedup=("purge", "failure", failed.reason),
    )


def _deletion_event(receipt: DeletionReceipt, status: str, now: datetime) -> dict[str, Any]:
    details = {"documents": receipt.documents, "indices": len(receipt.indices)} if status != "requested" else None
    return control_event(
        "deletion",
        status,
        now=now,
        job_id=receipt.receipt_id,
        workspace=receipt.workspace,
        user=receipt.operator,
        requested_at=receipt.requested_at,
        reason=receipt.reason,
        details=details,
    )


async def save(rec: Recorder, receipt: DeletionReceipt, refresh: bool = False) -> None:
    await rec.es.index(
        index=await rec.ensure("receipts"),
        id=receipt.receipt_id,
        document=receipt.to_doc(),
        refresh="wait_for" if refresh else None,
    )
