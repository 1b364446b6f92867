"""Backups still hold a deleted workspace past the purge deadline (14 days after the deletion).

Snapshots are observed, not estimated: `backup succeeded` naming a snapshot (`backup_id`) adds it,
`backup deleted` (what `secmon backup prune` emits) removes it. The snapshots present when a
workspace's deletion completed, taken at or before it, hold its data: the workspace is overdue when
its deadline passes while any of them is still present, and leaves the state when the last of them
is seen deleted. Backups reported without a name (an external system, or a job listed in
`estimate_jobs` whose producer never reports deletions) cannot be watched: the newest made before
the deletion is assumed kept `backup_retention` (from the deletion itself when no backup at all was
seen), and the alert says that expiry is estimated.

A legal hold keeps every snapshot it covers (one naming a workspace covers that workspace, one
without covers all), so while a covering hold is open the purge clock stops and estimated backups
are kept until it closes; the alert then says which incidents extended the clock.

Holds without a workspace concern every deletion, so the state is one entity, the backup
repository: the alert lists the workspaces overdue and resolves when none is left. State:
`snaps` {name: taken} (live named snapshots), `b` (newest unnamed backup), `holds` {incident:
workspace or None}, `ws` {workspace: {c: deletion completed, b: newest unnamed backup before it,
held/since/by/kept: legal hold time, incidents and close, gone: its last snapshot deleted, alerted}};
each map is bounded (MAX_* below), the oldest entries dropped first.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import DUE, Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import Duration, iso, job_name, span, utc
from detectors.rules._control import finding
from detectors.rules._signin import duration
from schemas.alert import Resource
from schemas.event import Event

KEY = "backups"
MAX_WORKSPACES = 1000  # deleted workspaces tracked at once; the oldest are dropped first
MAX_NAME = 128  # characters of a snapshot name kept in the state
MAX_SNAPSHOTS = 1000  # live snapshots tracked; the oldest is dropped and its expiry estimated from then on
MAX_HOLDS = 1000  # open legal holds tracked; beyond, the oldest counts as closed
MAX_INCIDENTS = 5  # incidents named per workspace
MAX_NAMED = 3  # snapshots named per workspace in the alert

META = DetectorMeta(
    id="backup_purge_overdue",
    title="Backups hold a deleted workspace past the purge deadline",
    description="Snapshots taken before a workspace deletion completed are still present (not reported "
    "deleted by prune, or kept by a legal hold) after the purge deadline; the alert names them. Time "
    "under an open legal hold does not count and the alert names the incidents; it resolves when the "
    "last such snapshot is reported deleted. Backups reported without a snapshot name expire after "
    "the backup retention parameter, an estimate the alert says it is.",
    version=2,
    severity="medium",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="sequence", key=()),  # one entity: the backup repository
    tags=("policy.backup_purge",),
    dedup_period=timedelta(days=60),
)


class Params(BaseModel):
    """The purge deadline, and how long backups whose deletion is not reported are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_age: Duration = Field(
        timedelta(days=14),
        description="Deleted data must be gone from backups this long "
        "after the deletion completed (legal holds extend it).",
    )
    backup_retention: Duration = Field(
        timedelta(days=14),
        description="For backups reported without a snapshot "
        "name (or of estimate_jobs): how long they are kept before being pruned. "
        "Set it to lifecycle.snapshot_retention_days.",
    )
    estimate_jobs: list[str] = Field(
        default_factory=list,
        description="Backup jobs (run id without its trailing "
        "date/number parts) that name their snapshots but never report them deleted: "
        "their expiry is estimated from backup_retention.",
    )
    repository: str = Field("secmon-backups", description="Name of the backup repository, for the alert.")


def _covering(state: dict, workspace: str) -> list[str]:
    """Incidents whose open hold covers `workspace`."""
    return sorted(i for i, ws in state["holds"].items() if ws in (None, workspace))


def _estimate(w: dict, params: Params) -> float | None:
    """When the unnamed backups holding the workspace expire (estimated), or None without any."""
    if w.get("b") is None:
        return None
    return max(w["b"] + params.backup_retention.total_seconds(), w.get("kept", 0))


def _evaluate(state: dict, now: float, params: Params, cause: Event | None = None) -> list:
    """Alert on workspaces past their deadline; drop (and resolve) those no backup holds any more."""
    found, gone = [], []
    snaps = sorted(state["snaps"].items(), key=lambda item: item[1])  # oldest first
    taken, held = [ts for _, ts in snaps], set(state["holds"].values())
    for workspace, w in sorted(state["ws"].items()):
        named = bisect_right(taken, w["c"])  # snapshots still present, taken at or before the deletion
        expire, covered = _estimate(w, params), None in held or workspace in held
        if expire is not None and now >= expire and not covered:
            expire = None  # the estimated backups are gone
        if not named and expire is None:
            gone.append((workspace, _gone(w, params)))
            continue
        deadline = w["c"] + params.max_age.total_seconds() + w.get("held", 0)
        if now >= deadline and not w.get("alerted") and not covered:
            w["alerted"] = True
            oldest = [name for name, _ in snaps[: min(named, MAX_NAMED)]]
            found.append(
                finding(
                    _message(workspace, w, (named, oldest), expire, deadline, params), entity(params), utc(deadline)
                )
            )
    cleared = [(workspace, when) for workspace, when in gone if state["ws"].pop(workspace).get("alerted")]
    if cleared and not any(w.get("alerted") for w in state["ws"].values()):
        when = max(at for _, (at, _) in cleared)
        names = "; ".join(f"{workspace}: {text}" for workspace, (_, text) in cleared)
        found.append(
            finding(
                f"backups no longer hold deleted workspaces past their purge deadline ({names})",
                entity(params),
                utc(when),
                cause,
                resolve=True,
            )
        )
    return found


def _gone(w: dict, params: Params) -> tuple[float, str]:
    """When the last backup holding a workspace went, and how that is known."""
    deleted, expired = w.get("gone"), _estimate(w, params)
    if expired is None or (deleted is not None and deleted >= expired):
        return (deleted or w["c"]), f"last snapshot deleted {iso(deleted or w['c'])}"
    return expired, f"last backup expired {iso(expired)}, estimated"


def _message(
    workspace: str, w: dict, named: tuple[int, list[str]], expire: float | None, deadline: float, params: Params
) -> str:
    """`named`: how many snapshots still hold the workspace, and the oldest of them."""
    kept, (count, oldest) = [], named
    if count:
        shown = ", ".join(oldest[:MAX_NAMED]) + (", ..." if count > MAX_NAMED else "")
        kept.append(f"snapshot {shown} still present" if count == 1 else f"{count} snapshots ({shown}) still present")
    if expire is not None:
        kept.append(
            f"backups without a snapshot name kept until {iso(expire)} (estimated from the "
            f"{span(params.backup_retention.total_seconds())} backup retention)"
        )
    text = (
        f"backups in {params.repository} still hold workspace {workspace}, deleted {iso(w['c'])}: "
        f"{' and '.join(kept)}, past the purge deadline {iso(deadline)} "
        f"({span(params.max_age.total_seconds())} after deletion"
    )
    if w.get("held"):
        text += f", extended {duration(w['held'])} by legal hold {', '.join(w['by'])}"
    return text + ")"


def entity(params: Params) -> Entity:
    """The backup repository holding the data."""
    return Entity(resource=Resource(type="backup_repository", id=params.repository))


def _apply(state: dict, event: Event, params: Params) -> None:
    """Fold one control event into the state (after the state was evaluated as of its time)."""
    control, ts = event.secmon.control, event.timestamp.timestamp()
    workspace = event.organization.id if event.organization else None
    if control.kind == "backup" and control.status == "deleted":
        _deleted(state, control.backup_id, ts)
    elif control.kind == "backup":
        job = job_name(control.job_id)
        if control.backup_id and (job is None or job not in params.estimate_jobs):
            _taken(state, control.backup_id, ts)
        else:
            state["b"] = max(ts, state.get("b", ts))
    elif control.kind == "deletion" and workspace:
        _deletion(state, workspace, ts)
    elif control.status == "opened":
        _open(state, control.incident_id, workspace, ts)
    else:
        _close(state, control.incident_id, ts)


def _name(name: str) -> str:
    """A snapshot name as kept in the state: at most MAX_NAME characters (a longer one ends in a digest),
    so 1,000 names stay far below a changelog message's 1 MB."""
    if len(name) <= MAX_NAME:
        return name
    return f"{name[: MAX_NAME - 17]}~{hashlib.blake2b(name.encode(), digest_size=8).hexdigest()}"


def _taken(state: dict, name: str, ts: float) -> None:
    """A snapshot is present from now; past MAX_SNAPSHOTS the oldest one's expiry becomes an estimate."""
    state["snaps"].setdefault(_name(name), ts)
    if len(state["snaps"]) > MAX_SNAPSHOTS:
        oldest = min(state["snaps"], key=state["snaps"].get)
        taken = state["snaps"].pop(oldest)
        for w in state["ws"].values():
            if taken <= w["c"]:
                w["b"] = max(w.get("b") or taken, taken)


def _deleted(state: dict, name: str | None, ts: float) -> None:
    """A snapshot was pruned: the workspaces it held lose one backup."""
    taken = state["snaps"].pop(_name(name), None) if name else None
    if taken is None:
        return
    for w in state["ws"].values():
        if taken <= w["c"]:
            w["gone"] = ts


def _deletion(state: dict, workspace: str, ts: float) -> None:
    """A workspace deletion completed: the unnamed backups before it are estimated, named ones watched."""
    newest = state.get("b")
    if newest is None and not state["snaps"]:
        newest = ts  # no backup seen at all: one may exist, taken as late as the deletion
    w = {"c": ts, "b": None if newest is None else min(newest, ts), "held": 0}
    if holders := _covering(state, workspace):
        w.update(since=ts, by=holders[:MAX_INCIDENTS])
    state["ws"][workspace] = w
    state["ws"] = dict(sorted(state["ws"].items(), key=lambda item: item[1]["c"])[-MAX_WORKSPACES:])


def _open(state: dict, incident: str | None, workspace: str | None, ts: float) -> None:
    """A hold opened: workspaces it newly covers stop their clock and name the incident."""
    for name, w in state["ws"].items():
        if not _covering(state, name) and workspace in (None, name):
            w["since"] = ts
        if workspace in (None, name):
            w["by"] = list(dict.fromkeys(w.get("by", []) + [incident]))[:MAX_INCIDENTS]
    state["holds"][incident] = workspace
    if len(state["holds"]) > MAX_HOLDS:
        _close(state, next(iter(state["holds"])), ts)


def _close(state: dict, incident: str | None, ts: float) -> None:
    """A hold closed: workspaces no longer covered resume their clock; their backups were kept till now."""
    if incident not in state["holds"]:
        return
    del state["holds"][incident]
    for name, w in state["ws"].items():
        if "since" in w and not _covering(state, name):
            w["held"] = w.get("held", 0) + max(0.0, ts - w.pop("since"))
            w["kept"] = max(w.get("kept", 0), ts)


def step(state, event: Event, params: Params):
    """Evaluate deadlines as of the event, then apply it; a deleted snapshot can resolve at once."""
    state, ts = _copy(state), event.timestamp.timestamp()
    findings = _evaluate(state, ts, params)
    _apply(state, event, params)
    if event.secmon.control.status == "deleted":
        findings += _evaluate(state, ts, params, event)
    return state, findings


def tick(state, now, params: Params):
    """Evaluate deadlines and estimated expiries as of now."""
    if not state:
        return state, []
    state = _copy(state)
    return state, _evaluate(state, now.timestamp(), params)


def deadline(state, params: Params):
    """The next time `_evaluate` can change something: a workspace's purge deadline or the estimated
    expiry of its unnamed backups (a clock stopped by a legal hold restarts with an event), or at
    once when a workspace is held by no backup any more."""
    taken, held = sorted(state.get("snaps", {}).values()), set(state.get("holds", {}).values())
    times = []
    for workspace, w in state.get("ws", {}).items():
        expire, covered = _estimate(w, params), None in held or workspace in held
        if not bisect_right(taken, w["c"]) and expire is None:
            return DUE
        if covered:
            continue
        if expire is not None:
            times.append(expire)
        if not w.get("alerted"):
            times.append(w["c"] + params.max_age.total_seconds() + w.get("held", 0))
    return min(times, default=None)


def _copy(state) -> dict:
    state = state or {}
    return {
        **state,
        "ws": {k: dict(v) for k, v in state.get("ws", {}).items()},
        "holds": dict(state.get("holds", {})),
        "snaps": dict(state.get("snaps", {})),
    }


def key(event: Event) -> str | None:
    """One entity for every relevant control event: backups taken or deleted, completed deletions, legal holds."""
    control = event.secmon.control
    if control is None:
        return None
    relevant = (
        (control.kind == "backup" and control.status in ("succeeded", "deleted"))
        or (control.kind == "deletion" and control.status == "completed")
        or (control.kind == "legal_hold" and control.incident_id is not None)
    )
    return KEY if relevant else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, tick=tick, deadline=deadline)
