"""Legal holds: while a hold is open, retention and prune keep every index and snapshot it covers.

One document per incident in `<prefix>-holds` (the alias of `<prefix>-holds-000001`), never
deleted: closing a hold records who closed it, when and why, and lets the clocks run again.
A hold covers index name patterns (default: every index of the deployment); a snapshot is
covered when it contains a covered index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase

from elasticsearch import AsyncElasticsearch

from pipeline.lifecycle import LifecycleError, Names
from pipeline.lifecycle.audit import Recorder, control_event
from schemas.lifecycle import LegalHold

log = logging.getLogger(__name__)


class HoldError(LifecycleError):
    """A hold command cannot be carried out (the message says what to do)."""


def covering(holds: Iterable[LegalHold], indices: Iterable[str]) -> list[str]:
    """Ids of the open holds that cover at least one of these index names."""
    names = list(indices)
    return sorted(
        {h.hold_id for h in holds if h.status == "open" and any(fnmatchcase(i, p) for p in h.indices for i in names)}
    )


async def load_holds(es: AsyncElasticsearch, names: Names, *, open_only: bool = True) -> list[LegalHold]:
    """Holds from the holds index (none when it does not exist yet; any other error raises,
    because deleting data while holds cannot be read would break a hold)."""
    query = {"term": {"status": "open"}} if open_only else {"match_all": {}}
    resp = await es.search(
        index=names.record_alias("holds"),
        query=query,
        size=10_000,
        ignore_unavailable=True,
        sort=[{"opened_at": "desc"}],
    )
    return [LegalHold.model_validate(hit["_source"]) for hit in resp["hits"]["hits"]]


async def get_hold(es: AsyncElasticsearch, names: Names, incident_id: str) -> LegalHold | None:
    """The hold of an incident, open or closed, or None."""
    resp = await es.options(ignore_status=404).get(index=names.record_alias("holds"), id=incident_id)
    return LegalHold.model_validate(resp["_source"]) if resp.get("found") else None


async def open_hold(
    rec: Recorder, *, incident_id: str, reason: str, patterns: list[str] | None, now: datetime, dry_run: bool = False
) -> tuple[LegalHold, bool]:
    """Open (or widen) the hold of an incident; (hold, changed). Re-opening with nothing new is a no-op."""
    if not incident_id.strip() or not reason.strip():
        raise HoldError("a legal hold needs an incident id and a reason (--incident, --reason)")
    wanted = patterns or [f"{rec.names.prefix}-*"]
    current = await get_hold(rec.es, rec.names, incident_id)
    if current is not None and current.status == "open":
        if set(wanted) <= set(current.indices):
            return current, False
        hold = current.model_copy(update={"timestamp": now, "indices": sorted(set(current.indices) | set(wanted))})
    else:
        hold = LegalHold(
            timestamp=now,
            hold_id=incident_id,
            incident_id=incident_id,
            reason=reason,
            status="open",
            indices=sorted(set(wanted)),
            opened_by=rec.operator,
            opened_at=now,
        )
    if not dry_run:
        await _store(rec, hold)
        event = control_event(
            "legal_hold",
            "opened",
            now=now,
            job_id=hold.hold_id,
            incident_id=incident_id,
            reason=hold.reason,
            user=rec.operator,
        )
        await rec.record(
            "hold_open",
            "success",
            now=now,
            job_id=hold.hold_id,
            target=",".join(hold.indices),
            message=f"legal hold {incident_id} opened on {', '.join(hold.indices)}: {hold.reason}",
            control=event,
            dedup=("hold_open", incident_id, hold.opened_at, tuple(hold.indices)),
        )
    return hold, True


async def close_hold(
    rec: Recorder, *, incident_id: str, reason: str, now: datetime, dry_run: bool = False
) -> tuple[LegalHold, bool]:
    """Close the hold of an incident; (hold, changed). Closing a closed hold is a no-op."""
    current = await get_hold(rec.es, rec.names, incident_id)
    if current is None:
        raise HoldError(f"no legal hold for incident {incident_id!r}; `secmon hold list --all` shows every hold")
    if current.status == "closed":
        return current, False
    hold = current.model_copy(
        update={
            "timestamp": now,
            "status": "closed",
            "closed_by": rec.operator,
            "closed_at": now,
            "close_reason": reason,
        }
    )
    if not dry_run:
        await _store(rec, hold)
        event = control_event(
            "legal_hold",
            "closed",
            now=now,
            job_id=hold.hold_id,
            incident_id=incident_id,
            reason=reason or None,
            user=rec.operator,
        )
        await rec.record(
            "hold_close",
            "success",
            now=now,
            job_id=hold.hold_id,
            target=",".join(hold.indices),
            message=f"legal hold {incident_id} closed: {reason or 'no reason given'}",
            control=event,
            dedup=("hold_close", incident_id, hold.opened_at),
        )
    return hold, True


async def _store(rec: Recorder, hold: LegalHold) -> None:
    # wait_for: the next retention or prune run must see the hold, even one started a moment later
    await rec.es.index(index=await rec.ensure("holds"), id=hold.hold_id, document=hold.to_doc(), refresh="wait_for")
    log.info("legal hold %s is %s (covers %s)", hold.hold_id, hold.status, ", ".join(hold.indices))
