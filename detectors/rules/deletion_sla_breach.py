"""A workspace deletion request not completed within its deadline (24 h by default)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import Duration, iso, span, utc
from detectors.rules._control import control_of, finding
from detectors.rules._signin import duration
from schemas.event import Event, Organization

MAX_PENDING = 20  # requests kept per workspace: bounds the state whatever a client sends

META = DetectorMeta(
    id="deletion_sla_breach",
    title="Workspace deletion not completed in time",
    description="A deletion control event `requested` for a workspace without a `completed` one (same job id, "
    "else the workspace's oldest open request) within the deadline. Timed: dated at the deadline; "
    "failed attempts do not stop the clock and are named; the alert resolves at completion. A "
    "completion whose `requested_at` shows it was late alerts even if the request was never seen.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="sequence", key=("organization.id",)),
    tags=("policy.deletion",),
    dedup_period=timedelta(days=30),
)


class Params(BaseModel):
    """The deletion deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_duration: Duration = Field(timedelta(hours=24), description="Longest time from request to completion.")


def entity(workspace: str) -> Entity:
    """The workspace being deleted."""
    return Entity(organization=Organization(id=workspace))


def _overdue(state: dict, now: float, sla: float) -> list:
    """Findings for every pending request whose deadline passed (each reported once)."""
    found = []
    for job, req in sorted(state["pending"].items(), key=lambda item: item[1]["r"]):
        due = req["r"] + sla
        if now >= due and not req.get("alerted"):
            req["alerted"] = True
            fail = f"; last attempt failed: {req['fail']}" if req.get("fail") else ""
            message = (
                f"deletion of workspace {state['ws']} (request {job}) not completed within {span(sla)}: "
                f"requested {iso(req['r'])}, due {iso(due)}{fail}"
            )
            found.append(finding(message, entity(state["ws"]), utc(due)))
    return found


def step(state, event: Event, params: Params):
    """Track requests, failures and completions; report deadlines passed as of this event."""
    control = control_of(event, "deletion")
    if control is None:
        return state, []
    ts, sla, job = event.timestamp.timestamp(), params.max_duration.total_seconds(), control.job_id or "-"
    state = {"ws": event.organization.id, "pending": {k: dict(v) for k, v in (state or {}).get("pending", {}).items()}}
    findings = _overdue(state, ts, sla)
    pending = state["pending"]
    if control.status == "requested":
        pending.setdefault(job, {"r": ts})
    elif control.status == "failed" and job in pending:
        pending[job]["fail"] = (control.reason or "no reason given")[:200]
    elif control.status == "completed":
        findings += _complete(state, job, control.requested_at, event, sla)
    state["pending"] = dict(sorted(pending.items(), key=lambda item: item[1]["r"])[-MAX_PENDING:])
    return (state if state["pending"] else None), findings  # nothing pending: the workspace is forgotten


def _complete(state: dict, job: str, requested_at, event: Event, sla: float) -> list:
    """Close the request; a late one alerts (if it had not yet) and the alert resolves when none is late."""
    pending, ts = state["pending"], event.timestamp.timestamp()
    if job not in pending and pending:
        job = min(pending, key=lambda j: pending[j]["r"])  # completion without a known job id: the oldest request
    req = pending.pop(job, None) or {}
    if requested_at is not None:
        req["r"] = min(req.get("r", ts), requested_at.timestamp())
    if "r" not in req:
        return []
    found = []
    if ts > req["r"] + sla and not req.get("alerted"):
        found = _overdue({"ws": state["ws"], "pending": {job: req}}, ts, sla)
    if ts > req["r"] + sla and not any(r.get("alerted") for r in pending.values()):
        message = (
            f"deletion of workspace {state['ws']} (request {job}) completed at {iso(ts)}, "
            f"{duration(ts - req['r'] - sla)} after its deadline"
        )
        found.append(finding(message, entity(state["ws"]), event.timestamp, event, resolve=True))
    return found


def tick(state, now, params: Params):
    """Report requests whose deadline passed."""
    if not state or not state.get("pending"):
        return state, []
    state = {"ws": state["ws"], "pending": {k: dict(v) for k, v in state["pending"].items()}}
    return state, _overdue(state, now.timestamp(), params.max_duration.total_seconds())


def deadline(state, params: Params):
    """The earliest deadline of a request not reported yet."""
    sla = params.max_duration.total_seconds()
    return min((req["r"] + sla for req in state.get("pending", {}).values() if not req.get("alerted")), default=None)


def key(event: Event) -> str | None:
    """The workspace of a deletion control event."""
    if control_of(event, "deletion") is None or not event.organization or not event.organization.id:
        return None
    return event.organization.id


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, tick=tick, deadline=deadline)
