"""An employee reads far more customer records in one day than they usually do.

State per employee (bounded): the daily totals of the last `baseline_days` days (UTC days of the
events' own timestamps), plus, for the latest day only, the records per workspace (at most
`MAX_WORKSPACES`) and the ids of its latest events (at most `MAX_IDS`). The usual volume is the
users context table's `usual_daily_records` when the enricher attached it, else the median of the
employee's active days in the baseline window (days without access are days off, not a usual
volume of zero). A day alerts once, when its total first exceeds the threshold.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.rules._staff import staff_entity
from schemas.event import Event, Organization

DAY_SECONDS = 86400
MAX_WORKSPACES = 20
MAX_IDS = 50

META = DetectorMeta(
    id="staff_access_bulk",
    title="Staff bulk access to customer records",
    description="An employee's records read in one day (UTC, event time) exceed both a floor and a multiple "
    "of their usual daily volume: the users context table's usual_daily_records, else the median "
    "of their active days over the baseline window.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("staff.access",),
    state=StateSpec(kind="sliding_window", key=("user.name",), window=timedelta(days=15)),
    tags=("policy.staff_access_justified", "attack.collection", "attack.exfiltration", "attack.t1213"),
    dedup_period=timedelta(days=1),
)


class Params(BaseModel):
    """Threshold = max(min_records, factor x usual daily volume)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_records: int = Field(1000, ge=1, description="Never alert on a day with this many records or fewer.")
    factor: float = Field(5.0, gt=1, description="Alert above this multiple of the usual daily volume.")
    baseline_days: int = Field(
        14, ge=1, le=90, description="Days before the current one the usual volume is learned from."
    )
    min_history_days: int = Field(
        3,
        ge=1,
        description="Active days needed before the learned median counts "
        "(before that, only min_records or the context's usual volume apply).",
    )
    actions: list[str] = Field(
        default_factory=lambda: ["read", "export"],
        description="secmon.staff_access.action values whose records are counted.",
    )


def usual_volume(days: list[list[int]], day: int, event: Event, params: Params) -> tuple[float | None, str]:
    """The usual daily records (or None) and where that figure comes from, for the message."""
    context = event.secmon.context
    if context is not None and context.user_usual_daily_records is not None:
        return float(context.user_usual_daily_records), "usual volume from the users table"
    history = [total for d, total in days if day - params.baseline_days <= d < day and total > 0]
    if len(history) < params.min_history_days:
        return None, "no usual volume known yet"
    return float(median(history)), f"median of {len(history)} active days"


def record(state: State | None, day: int, count: int, event: Event, params: Params) -> State | None:
    """Add the event's records to its day; None when the day is older than the window keeps."""
    state = (
        {"d": [], "ws": {}, "ids": [], "alerted": None}
        if state is None
        else {**state, "ws": dict(state["ws"]), "ids": list(state["ids"])}
    )  # never mutate the stored state
    latest = state["d"][-1][0] if state["d"] else day
    if day < latest - params.baseline_days:
        return None
    totals = dict(map(tuple, state["d"]))
    totals[day] = totals.get(day, 0) + count
    newest = max(latest, day)
    state["d"] = sorted([d, n] for d, n in totals.items() if d >= newest - params.baseline_days)
    if day > latest:
        state.update(ws={}, ids=[], alerted=None)
    if day == newest:
        workspace = event.organization.id if event.organization and event.organization.id else "-"
        if workspace not in state["ws"] and len(state["ws"]) >= MAX_WORKSPACES:
            workspace = "other"
        state["ws"][workspace] = state["ws"].get(workspace, 0) + count
        state["ids"] = (state["ids"] + [event.event.id])[-MAX_IDS:]
    return state


def step(state: State | None, event: Event, params: Params):
    """Count the day's records; alert the first time the day's total exceeds the threshold."""
    access = event.secmon.staff_access
    if access is None or access.action not in params.actions or not access.record_count:
        return state, []
    day = int(event.timestamp.timestamp() // DAY_SECONDS)
    updated = record(state, day, access.record_count, event, params)
    if updated is None:
        return state, []
    total = dict(map(tuple, updated["d"]))[day]
    usual, basis = usual_volume(updated["d"], day, event, params)
    threshold = max(params.min_records, params.factor * usual if usual is not None else 0)
    if day != updated["d"][-1][0] or updated["alerted"] == day or total <= threshold:
        return updated, []
    updated["alerted"] = day
    return updated, [_finding(event, updated, day, total, threshold, usual, basis)]


def _finding(
    event: Event, state: State, day: int, total: int, threshold: float, usual: float | None, basis: str
) -> Finding:
    date = datetime.fromtimestamp(day * DAY_SECONDS, tz=timezone.utc).date().isoformat()
    by_ws = sorted(state["ws"].items(), key=lambda kv: (-kv[1], kv[0]))
    usual_text = f"usual {usual:,.0f}/day, {basis}" if usual is not None else basis
    message = (
        f"{event.user.name} read {total:,} customer records on {date} (UTC), over the threshold of "
        f"{threshold:,.0f} ({usual_text}); by workspace: " + ", ".join(f"{w} {n:,}" for w, n in by_ws[:5])
    )
    top = by_ws[0][0]  # the alert names the workspace read most, not the one of the crossing event
    entity = Entity(
        user=staff_entity(event).user, organization=Organization(id=top) if top not in ("-", "other") else None
    )
    return Finding(
        message=message,
        entity=entity,
        timestamp=event.timestamp,
        event_ids=tuple(state["ids"]),
        datasets=(event.event.dataset,),
    )


def key(event: Event) -> str | None:
    """The employee, for staff accesses that touched records."""
    access = event.secmon.staff_access
    if access is None or not access.record_count or event.user is None or not event.user.name:
        return None
    return event.user.name


def ttl(params: Params) -> float:
    """After baseline_days (+ the day itself) without records, every day kept has left the baseline."""
    return (params.baseline_days + 2) * DAY_SECONDS


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=ttl)
