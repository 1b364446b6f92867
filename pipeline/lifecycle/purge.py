"""Workspace purge: delete every document of one workspace from every secmon data index, with proof.

A workspace's data is every event, alert and dead letter whose `organization.id` is the
workspace (the contract every normalizer fills from the source's workspace/tenant field).
Control events (`control.events`) are excluded: they are secmon's evidence about the workspace
(e.g. its deletion request), not customer data. Core APIs only: a point-in-time over the data
indices, paged with search_after, each page bulk-deleted by _id; then a refresh and a count that
must be zero (documents that arrived meanwhile get another pass).

The receipt (`<prefix>-receipts`) is written before the first delete and updated after each
page, so a purge that dies is resumed by running it again, under the same receipt id; running it
once more after completion is a no-op. Snapshots taken before completion still hold the data
until prune removes them; the receipt lists them and when the last one expires.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, TransportError
from elasticsearch.helpers import async_streaming_bulk

from pipeline.lifecycle import LifecycleError, receipts
from pipeline.lifecycle.audit import Recorder
from pipeline.settings import EsSettings, LifecycleSettings
from pipeline.sinks.elasticsearch import RETRY_STATUS
from schemas.lifecycle import DeletionReceipt

log = logging.getLogger(__name__)
WORKSPACE_FIELD = "organization.id"
EXCLUDED_DATASETS = ("control.events",)
MAX_PASSES = 5
STATE_FIELDS = ("alert.id", "user.name")
Progress = Callable[[int, int], None]


def workspace_query(workspace: str) -> dict[str, Any]:
    """The documents of a workspace (control events excluded)."""
    return {
        "bool": {
            "filter": [{"term": {WORKSPACE_FIELD: workspace}}],
            "must_not": [{"terms": {"event.dataset": list(EXCLUDED_DATASETS)}}],
        }
    }


@dataclass(frozen=True)
class StatePurge:
    """How the workspace's detector state is recognised: its alert ids and its users' names."""

    workspace: str
    alert_ids: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()


# (what identifies the state, receipt id) -> receipt fields saying what was asked (see forget.py)
BeforeDelete = Callable[[StatePurge, str], Awaitable[dict[str, int] | None]]


@dataclass
class PurgeResult:
    """A purge: its receipt, whether it was a no-op, and what detector state must be forgotten."""

    receipt: DeletionReceipt
    noop: bool = False
    planned: dict[str, int] = field(default_factory=dict)
    state: StatePurge | None = None


async def purge_workspace(
    rec: Recorder,
    lc: LifecycleSettings,
    es_cfg: EsSettings,
    workspace: str,
    *,
    now: datetime,
    request_id: str | None = None,
    requested_at: datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: int = 5000,
    before_delete: BeforeDelete | None = None,
) -> PurgeResult:
    """Delete the workspace's documents everywhere, verify zero, write the receipt, emit control events.

    `before_delete` receives what identifies the workspace's detector state, read before the
    first document is deleted (the worker's state purge must not depend on documents a crashed
    run already removed).
    """
    _check(workspace, requested_at, now)
    started = time.monotonic()
    es, patterns, query = rec.es, ",".join(rec.names.data_patterns()), workspace_query(workspace)
    planned = await count_by_index(es, patterns, query)
    current = await receipts.find_receipt(es, rec.names, workspace, request_id)
    if current is not None and current.status == "completed" and (request_id or not planned):
        return PurgeResult(current, noop=True, planned=planned)
    new = current is None or current.status == "completed"
    if current is None or new:
        current = receipts.new_receipt(
            workspace, request_id or f"{now:%Y%m%dT%H%M%SZ}", requested_at or now, now, rec.operator
        )
    result = PurgeResult(current, planned=planned)
    if dry_run:
        return result
    result.receipt = await receipts.start(rec, result.receipt, new, now)
    try:
        result.state = await collect_state_keys(es, patterns, workspace)
        asked = await before_delete(result.state, result.receipt.receipt_id) if before_delete is not None else None
        first = result.receipt  # a resumed run sees only what the first one left: keep the larger counts
        result.receipt = first.model_copy(
            update={
                "state_alerts": max(first.state_alerts, len(result.state.alert_ids)),
                **{name: max(getattr(first, name), n) for name, n in (asked or {}).items()},
            }
        )
        result.receipt = await _run_passes(rec, es_cfg, result.receipt, patterns, query, result, progress, batch)
    except (LifecycleError, ApiError, TransportError) as exc:
        await receipts.fail(rec, result.receipt, exc, now)
        raise
    done_at = now + timedelta(seconds=time.monotonic() - started)  # the injected clock, moved by real elapsed time
    result.receipt = await receipts.finish(rec, lc, result.receipt, done_at)
    return result


def _check(workspace: str, requested_at: datetime | None, now: datetime) -> None:
    if not workspace.strip():
        raise LifecycleError("--workspace must name a workspace (an organization.id value)")
    if requested_at is not None and requested_at > now:
        raise LifecycleError(f"--requested-at {requested_at.isoformat()} is in the future; give when the owner asked")


async def count_by_index(es: AsyncElasticsearch, patterns: str, query: dict[str, Any]) -> dict[str, int]:
    """Documents matching query per index, after a refresh."""
    await es.indices.refresh(index=patterns, ignore_unavailable=True, allow_no_indices=True)
    resp = await es.search(
        index=patterns,
        query=query,
        size=0,
        ignore_unavailable=True,
        allow_no_indices=True,
        aggs={"by_index": {"terms": {"field": "_index", "size": 65536}}},
    )
    return {b["key"]: b["doc_count"] for b in resp["aggregations"]["by_index"]["buckets"]}


async def _run_passes(
    rec: Recorder,
    es_cfg: EsSettings,
    receipt: DeletionReceipt,
    patterns: str,
    query: dict[str, Any],
    result: PurgeResult,
    progress: Progress | None,
    batch: int,
) -> DeletionReceipt:
    counts = Counter({c.index: c.documents for c in receipt.indices})
    remaining = sum(result.planned.values())
    for n in range(receipt.passes + 1, receipt.passes + MAX_PASSES + 1):
        total, done = remaining, 0

        async def on_page(hits: list[dict[str, Any]]) -> None:
            nonlocal done, receipt
            counts.update(await _bulk_delete(rec.es, es_cfg, hits))
            done += len(hits)
            receipt = result.receipt = receipts.with_counts(receipt, counts, n)  # noqa: B023 - runs within this pass
            await receipts.save(rec, receipt)
            if progress is not None:
                progress(done, max(total, done))  # noqa: B023 - runs within this pass

        await _scan(rec.es, patterns, query, batch, on_page)
        remaining = sum((await count_by_index(rec.es, patterns, query)).values())
        receipt = receipts.with_counts(receipt, counts, n).model_copy(update={"remaining": remaining})
        if remaining == 0:
            break
        log.warning(
            "purge %s: %d documents of %s arrived during pass %d; scanning again",
            receipt.receipt_id,
            remaining,
            receipt.workspace,
            n,
        )
    return receipt


async def _scan(es: AsyncElasticsearch, patterns: str, query: dict[str, Any], batch: int, on_page) -> None:
    """Page through every matching document with a point-in-time and search_after."""
    pit_id = (
        await es.open_point_in_time(
            index=patterns, keep_alive="5m", ignore_unavailable=True, allow_partial_search_results=False
        )
    )["id"]
    after = None
    try:
        while True:
            resp = await es.search(
                pit={"id": pit_id, "keep_alive": "5m"},
                query=query,
                size=batch,
                sort=["_shard_doc"],
                search_after=after,
                source=False,
                track_total_hits=False,
            )
            pit_id = resp.get("pit_id", pit_id)
            hits = resp["hits"]["hits"]
            if not hits:
                return
            after = hits[-1]["sort"]
            await on_page(hits)
    finally:
        await es.options(ignore_status=404).close_point_in_time(id=pit_id)


async def _bulk_delete(es: AsyncElasticsearch, cfg: EsSettings, hits: list[dict[str, Any]]) -> Counter:
    """Delete hits by _index/_id (429/5xx retried with backoff); deleted count per index."""
    actions = [{"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits]
    deleted: Counter = Counter()
    refused = []
    async for _ok, item in async_streaming_bulk(
        es,
        actions,
        chunk_size=cfg.bulk_max_docs,
        max_chunk_bytes=cfg.bulk_max_bytes,
        raise_on_error=False,
        raise_on_exception=True,
        max_retries=cfg.max_retries,
        initial_backoff=0.5,
        max_backoff=30,
        retry_on_status=RETRY_STATUS,
    ):
        res = item["delete"]
        if res.get("result") == "deleted":
            deleted[res["_index"]] += 1
        elif res.get("status") != 404:  # 404: deleted by the run that died before recording it
            refused.append(f"{res.get('_index')}/{res.get('_id')}: {res.get('status')} {res.get('error')}")
    if refused:
        raise LifecycleError(
            f"Elasticsearch refused {len(refused)} deletes (first: {refused[0]}); the purge is "
            "recorded as in progress: fix the cause and run the same command again to resume"
        )
    return deleted


async def collect_state_keys(es: AsyncElasticsearch, patterns: str, workspace: str) -> StatePurge:
    """The workspace's alert ids and user names (composite aggregations, paged)."""
    found: dict[str, set[str]] = {}
    for name in STATE_FIELDS:
        values, after = found.setdefault(name, set()), None
        while True:
            composite: dict[str, Any] = {"size": 10_000, "sources": [{"v": {"terms": {"field": name}}}]}
            if after is not None:
                composite["after"] = after
            resp = await es.search(
                index=patterns,
                query=workspace_query(workspace),
                size=0,
                ignore_unavailable=True,
                allow_no_indices=True,
                aggs={"keys": {"composite": composite}},
            )
            agg = resp["aggregations"]["keys"]
            values.update(b["key"]["v"] for b in agg["buckets"])
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                break
    return StatePurge(workspace, frozenset(found["alert.id"]), frozenset(found["user.name"]))
