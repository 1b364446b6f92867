"""Retention: delete whole daily indices past their dataset's retention, never one under legal hold.

The day comes from the index name (`<prefix>-events-<dataset>-<YYYY.MM.DD>`,
`<prefix>-alerts-<YYYY.MM.DD>`, `<prefix>-deadletter-<YYYY.MM.DD>`), which is the event day the
sink routed each document by. An index is expired once its whole day lies further back than the
retention period, so no document is deleted a moment early. Deleting whole indices needs no
delete-by-query and frees disk at once. Every deletion and every hold decision is audited.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from elasticsearch import ApiError, AsyncElasticsearch

from pipeline.lifecycle import DATA_KINDS, Names, iso
from pipeline.lifecycle.audit import Recorder
from pipeline.lifecycle.holds import covering, load_holds
from pipeline.settings import LifecycleSettings
from schemas.lifecycle import LegalHold

log = logging.getLogger(__name__)
Action = Literal["delete", "keep", "hold"]


@dataclass(frozen=True)
class IndexPlan:
    """What retention does with one daily index, and why."""

    index: str
    kind: str
    dataset: str | None
    day: date
    retention_days: int
    expires: datetime
    action: Action
    holds: tuple[str, ...] = ()


@dataclass
class RetentionResult:
    """A retention run: the plan, what was deleted, what failed (index -> reason)."""

    plans: list[IndexPlan]
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def parse_index(names: Names, index: str) -> tuple[str, str | None, date] | None:
    """(kind, dataset, day) of a daily data index of this deployment, else None."""
    for kind in DATA_KINDS:
        head = re.escape(f"{names.prefix}-{kind}-")
        dataset = "(?P<dataset>.+)-" if kind == "events" else ""
        match = re.fullmatch(f"{head}{dataset}(?P<y>\\d{{4}})\\.(?P<m>\\d{{2}})\\.(?P<d>\\d{{2}})", index)
        if match:
            try:
                day = date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return None
            return kind, match.groupdict().get("dataset"), day
    return None


def retention_days(cfg: LifecycleSettings, kind: str, dataset: str | None) -> int:
    """Days an index is kept: per dataset (events) or per kind (alerts, deadletter), else the default."""
    key = dataset if kind == "events" else kind
    return cfg.retention_days.get(key or "", cfg.default_retention_days)


def plan(
    indices: list[str], names: Names, cfg: LifecycleSettings, holds: list[LegalHold], now: datetime
) -> list[IndexPlan]:
    """Decide for every daily index: delete (expired), hold (expired but held) or keep. Pure."""
    plans = []
    for index in sorted(indices):
        parsed = parse_index(names, index)
        if parsed is None:
            continue  # not a daily data index (lifecycle records, restore copies): never ours to expire
        kind, dataset, day = parsed
        days = retention_days(cfg, kind, dataset)
        expires = datetime.combine(day + timedelta(days=1 + days), time(), tzinfo=timezone.utc)
        held = tuple(covering(holds, [index]))
        action: Action = "keep" if now < expires else ("hold" if held else "delete")
        plans.append(IndexPlan(index, kind, dataset, day, days, expires, action, held if action == "hold" else ()))
    return plans


async def list_indices(es: AsyncElasticsearch, patterns: list[str]) -> list[str]:
    """Names of the indices matching patterns (none is fine)."""
    found = await es.cat.indices(index=",".join(patterns), h="index", format="json", expand_wildcards="open,closed")
    return sorted(row["index"] for row in found.body if isinstance(row, dict))  # format=json: a list of rows


async def run_retention(
    rec: Recorder, cfg: LifecycleSettings, *, now: datetime, dry_run: bool = False
) -> RetentionResult:
    """Delete every expired, unheld daily index; audit each deletion and each hold that kept one."""
    holds = await load_holds(rec.es, rec.names)
    result = RetentionResult(plan(await list_indices(rec.es, rec.names.data_patterns()), rec.names, cfg, holds, now))
    if dry_run:
        return result
    job_id = f"retention-{now:%Y%m%dT%H%M%SZ}"
    for p in result.plans:
        if p.action == "hold":
            await rec.record(
                "retention_hold",
                "kept",
                now=now,
                job_id=job_id,
                target=p.index,
                hold_ids=p.holds,
                message=f"{p.index} expired at {iso(p.expires)} but is kept by legal hold {', '.join(p.holds)}",
                dedup=("retention_hold", p.index, p.holds),
            )
        elif p.action == "delete":
            await _delete(rec, p, job_id, now, result)
    return result


async def _delete(rec: Recorder, p: IndexPlan, job_id: str, now: datetime, result: RetentionResult) -> None:
    why = f"{p.kind} of {p.day.isoformat()}, retention {p.retention_days} days, expired at {iso(p.expires)}"
    # audited before the delete: a run that dies in between leaves the intent on record, and the
    # next run deletes the index and completes the record (same ids, so nothing is written twice)
    await rec.record(
        "retention_delete",
        "started",
        now=now,
        job_id=job_id,
        target=p.index,
        message=f"deleting {p.index}: {why}",
        dedup=("retention_delete", "started", p.index),
    )
    try:
        await rec.es.options(ignore_status=404).indices.delete(index=p.index)  # 404: a concurrent run won
    except ApiError as exc:
        result.failed[p.index] = f"{exc.meta.status} {exc.message}"
        await rec.record(
            "retention_delete",
            "failure",
            now=now,
            job_id=job_id,
            target=p.index,
            message=f"could not delete {p.index}: {result.failed[p.index]}",
        )
        return
    result.deleted.append(p.index)
    await rec.record(
        "retention_delete",
        "success",
        now=now,
        job_id=job_id,
        target=p.index,
        message=f"deleted {p.index}: {why}",
        dedup=("retention_delete", "success", p.index),
    )
