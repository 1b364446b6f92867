"""A vulnerability finding still open past its remediation deadline (critical 7 days, high 30 days).

The clock of a finding starts the first time its id (`secmon.finding.id`, stable across scans) is
seen for its target, not at the CreatedAt of a later report. A finding is fixed when a later scan
of the same target no longer lists it, or when its status says so. Trivy reports arrive as one
`scan_completed` event followed by the findings of that scan, so a scan is known complete once
an event of a later report of the target arrives, or once the clock is `SETTLE_S` past both the
scan and the first tick that saw it (live, a tick may fall between a scan event and its findings). The state is one
entity per scanned target (image, repository, VM), bounded to MAX_FINDINGS findings with a deadline.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import DUE, Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import Duration, iso, utc
from detectors.rules._control import finding
from schemas.alert import Resource
from schemas.event import Event, Host

SETTLE_S = 600.0
SAME_SCAN_S = 60.0  # findings of one report carry its CreatedAt; without one, their read times differ slightly
MAX_FINDINGS = 2000
FORGET_FIXED_S = 90 * 86400.0  # a fixed finding's first-seen is kept this long in case it comes back
SHOWN = 3  # findings named in a message
SEVERITIES = ("critical", "high", "medium", "low")

META = DetectorMeta(
    id="vuln_sla_breach",
    title="Vulnerability open past its remediation deadline",
    description="A scanner finding (Trivy) is still open longer than the remediation deadline of its severity, "
    "counted from the first scan that reported it. Timed: dated at the deadline; the alert (one per "
    "scanned target) resolves when every overdue finding is fixed: absent from a later scan of the "
    "target, or reported with a closed status. Targets not scanned for `retire_after` are dropped.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("vuln.finding",),
    state=StateSpec(kind="first_seen", key=("secmon.finding.target",)),
    tags=("policy.vuln_remediation",),
    dedup_period=timedelta(days=90),
)


class Params(BaseModel):
    """Remediation deadlines per severity (None: no deadline) and when a finding counts as closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    critical: Duration | None = Field(timedelta(days=7), description="Deadline of CRITICAL findings.")
    high: Duration | None = Field(timedelta(days=30), description="Deadline of HIGH findings.")
    medium: Duration | None = Field(None, description="Deadline of MEDIUM findings (none by default).")
    low: Duration | None = Field(None, description="Deadline of LOW findings (none by default).")
    closed_statuses: list[str] = Field(
        ["fixed", "not_affected", "false_positive"],
        description="secmon.finding.status values that close a finding (Trivy's own `fixed` arrives as open).",
    )
    retire_after: Duration | None = Field(
        timedelta(days=30),
        description="A target not scanned this long (an old "
        "image tag) is dropped and its alert resolved; None keeps it forever.",
    )


def deadline_of(params: Params, severity: str | None) -> float | None:
    """Seconds allowed for a finding of this severity (CRITICAL...LOW; UNKNOWN has none), or None."""
    name = (severity or "").lower()
    value = getattr(params, name) if name in SEVERITIES else None
    return value.total_seconds() if value is not None else None


def entity(state: dict) -> Entity:
    """The scanned target (and its host, for a VM)."""
    return Entity(
        resource=Resource(type="scan_target", id=state["t"]),
        host=Host(name=state["host"]) if state.get("host") else None,
    )


def _record(state: dict, event: Event, params: Params) -> None:
    """Fold one vulnerability_found event into the target's findings."""
    info, ts = event.secmon.finding, event.timestamp.timestamp()
    findings = state["f"]
    severity = event.vulnerability.severity if event.vulnerability else None
    allowed = deadline_of(params, severity)
    if info.status is not None and info.status in params.closed_statuses:
        if info.id in findings and "x" not in findings[info.id]:
            findings[info.id]["x"] = ts
        return
    if allowed is None:
        findings.pop(info.id, None)
        return
    entry = dict(findings.get(info.id) or {"first": ts})
    entry.pop("x", None)  # reported again: open again, with its original first-seen
    entry.update(
        seen=max(ts, entry.get("seen", ts)),
        sev=severity,
        due=entry["first"] + allowed,
        v=event.vulnerability.id or "unnamed",
        p=event.package.name if event.package else None,
    )
    findings[info.id] = entry


def _settle(state: dict, scan: float) -> None:
    """Findings absent from the complete scan at `scan` are fixed as of it."""
    for entry in state["f"].values():
        if "x" not in entry and entry["seen"] < scan - SAME_SCAN_S:
            entry["x"] = scan


def _evaluate(state: dict, now: float) -> list:
    """Report newly overdue findings; resolve when no overdue finding is open; forget old fixed ones."""
    findings = state["f"]
    for fid in [fid for fid, e in findings.items() if "x" in e and now - e["x"] > FORGET_FIXED_S]:
        del findings[fid]
    late = sorted(
        (e for e in findings.values() if "x" not in e and e["due"] <= now and not e.get("b")), key=lambda e: e["due"]
    )
    for entry in late:
        entry["b"] = True
    if late:
        state["alerted"] = True
        overdue = sorted((e for e in findings.values() if "x" not in e and e.get("b")), key=lambda e: e["due"])
        return [finding(_message(state["t"], overdue), entity(state), utc(late[0]["due"]))]
    if state.get("alerted") and not any("x" not in e and e.get("b") for e in findings.values()):
        state.pop("alerted")
        fixed_at = max((e["x"] for e in findings.values() if "x" in e and e.get("b")), default=now)
        return [
            finding(
                f"no vulnerability finding of {state['t']} is past its remediation deadline any more "
                f"(fixed as of {iso(fixed_at)})",
                entity(state),
                utc(min(fixed_at, now)),
                resolve=True,
            )
        ]
    return []


def _message(target: str, overdue: list[dict]) -> str:
    shown = "; ".join(
        f"{e['v']} ({e['sev']}, {e['p']}, first seen {iso(e['first'])}, due {iso(e['due'])})" for e in overdue[:SHOWN]
    )
    more = f"; and {len(overdue) - SHOWN} more" if len(overdue) > SHOWN else ""
    return f"{len(overdue)} vulnerability finding(s) of {target} open past their remediation deadline: {shown}{more}"


def step(state, event: Event, params: Params):
    """A scan or a finding of the target: evaluate as of its time, then apply it."""
    ts = event.timestamp.timestamp()
    state = _copy(state, event)
    if ts > state.get("scan", ts) + SAME_SCAN_S:
        _settle(state, state["scan"])  # a later report of the target: every finding of the last scan is in
    findings = _evaluate(state, ts)
    if event.event.action == "scan_completed" and ts > state.get("scan", float("-inf")):
        state.update(scan=ts, mark=None)
    elif event.secmon.finding.id:
        _record(state, event, params)
        if len(state["f"]) > MAX_FINDINGS:  # keep the open ones with the nearest deadlines
            state["f"] = dict(sorted(state["f"].items(), key=lambda i: ("x" in i[1], i[1]["due"]))[:MAX_FINDINGS])
    return state, findings + _evaluate(state, ts)


def tick(state, now, params: Params):
    """Settle the latest scan once it is surely complete, drop a retired target, report deadlines passed."""
    if not state or "t" not in state:
        return state, []
    state, now_ts = _copy(state), now.timestamp()
    if "scan" in state and state.get("mark") is None:
        state["mark"] = now_ts
    elif "scan" in state and now_ts >= max(state["scan"], state["mark"]) + SETTLE_S:
        _settle(state, state["scan"])
    retire_at = (
        state.get("scan", state.get("since", now_ts)) + params.retire_after.total_seconds()
        if params.retire_after
        else float("inf")
    )
    findings = _evaluate(state, min(now_ts, retire_at))
    if now_ts < retire_at:
        return state, findings
    return None, findings + _retire(state, retire_at)


def deadline(state, params: Params):
    """The next time `tick` changes something: the first tick after a scan (it marks it), the scan
    settling (when a finding may be missing from it), a finding's deadline, a fixed one forgotten,
    the target retired."""
    if "t" not in state:
        return None
    if "scan" in state and state.get("mark") is None:
        return DUE
    found = state.get("f", {})
    if state.get("alerted") and not any("x" not in e and e.get("b") for e in found.values()):
        return DUE  # resolves at the next evaluation
    times = [e["x"] + FORGET_FIXED_S if "x" in e else e["due"] for e in found.values() if "x" in e or not e.get("b")]
    if "scan" in state and any("x" not in e and e["seen"] < state["scan"] - SAME_SCAN_S for e in found.values()):
        times.append(max(state["scan"], state["mark"]) + SETTLE_S)
    if params.retire_after:
        if "scan" not in state and "since" not in state:
            return DUE
        times.append(state.get("scan", state.get("since")) + params.retire_after.total_seconds())
    return min(times, default=None)


def _retire(state: dict, when: float) -> list:
    """Forget a target no longer scanned (an old image tag): its open alert resolves, saying why."""
    if not state.get("alerted"):
        return []
    return [
        finding(
            f"{state['t']} has not been scanned since {iso(state.get('scan', when))}: its findings are "
            f"no longer tracked",
            entity(state),
            utc(when),
            resolve=True,
        )
    ]


def _copy(state, event: Event | None = None) -> dict:
    state = dict(state or {})
    state["f"] = {k: dict(v) for k, v in state.get("f", {}).items()}
    if event is not None:
        state.setdefault("since", event.timestamp.timestamp())
        state["t"] = event.secmon.finding.target
        if event.host and event.host.name:
            state["host"] = event.host.name
    return state


def key(event: Event) -> str | None:
    """The scanned target of a Trivy scan or finding."""
    info = event.secmon.finding
    return info.target if info is not None and info.target else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, tick=tick, deadline=deadline)
