"""Backups still hold a deleted workspace past the purge deadline (14 days after the deletion).

No control event says a snapshot was pruned, so presence is derived, as `secmon purge` does for
its receipt: the backups taken before the deletion completed hold the workspace's data until the
newest of them expires (`backup_retention` after it was taken; the deletion time itself when no
backup was seen). A legal hold keeps every snapshot it covers (one naming a workspace covers that
workspace, one without covers all), so while a covering hold is open the purge clock stops and the
snapshots are kept until it closes; the alert then says which incidents extended the clock.

Holds without a workspace concern every deletion, so the state is one entity, the backup
repository: the alert lists the workspaces overdue and resolves when none is left.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, StateSpec
from detectors.rules._clock import Duration, iso, span, utc
from detectors.rules._control import finding
from detectors.rules._signin import duration
from schemas.alert import Resource
from schemas.event import Event

KEY = "backups"
MAX_WORKSPACES = 1000  # deleted workspaces tracked at once; the oldest are dropped first
MAX_INCIDENTS = 5  # incidents named per workspace

META = DetectorMeta(
    id="backup_purge_overdue",
    title="Backups hold a deleted workspace past the purge deadline",
    description="Backups taken before a workspace deletion completed are still kept (by retention or a "
                "legal hold) after the purge deadline. Time under an open legal hold does not count and the "
                "alert names the incidents; it resolves when the last such backup has expired. Derived from "
                "the backup retention parameter: no event reports a snapshot pruned.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="sequence", key=()),  # one entity: the backup repository
    tags=("policy.backup_purge",),
    dedup_period=timedelta(days=60),
)


class Params(BaseModel):
    """The purge deadline and how long backups are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_age: Duration = Field(timedelta(days=14), description="Deleted data must be gone from backups this long "
                              "after the deletion completed (legal holds extend it).")
    backup_retention: Duration = Field(timedelta(days=14), description="How long a backup is kept before prune "
                                       "deletes it: set it to lifecycle.snapshot_retention_days.")
    repository: str = Field("secmon-backups", description="Name of the backup repository, for the alert.")


def _covering(state: dict, workspace: str) -> list[str]:
    """Incidents whose open hold covers `workspace`."""
    return sorted(i for i, ws in state["holds"].items() if ws in (None, workspace))


def _evaluate(state: dict, now: float, params: Params) -> list:
    """Alert on workspaces past their deadline; drop (and resolve) those whose backups have expired."""
    found, expired = [], []
    for workspace, w in sorted(state["ws"].items()):
        expire = max((w.get("b") or w["c"]) + params.backup_retention.total_seconds(), w.get("kept", 0))
        if now >= expire and not _covering(state, workspace):
            expired.append((workspace, expire))
            continue
        deadline = w["c"] + params.max_age.total_seconds() + w.get("held", 0)
        if now >= deadline and not w.get("alerted") and not _covering(state, workspace):
            w["alerted"] = True
            found.append(finding(_message(workspace, w, deadline, expire, params), entity(params), utc(deadline)))
    cleared = [(workspace, expire) for workspace, expire in expired if state["ws"].pop(workspace).get("alerted")]
    if cleared and not any(w.get("alerted") for w in state["ws"].values()):
        when = max(expire for _, expire in cleared)
        names = ", ".join(workspace for workspace, _ in cleared)
        found.append(finding(f"backups no longer hold deleted workspaces past their purge deadline ({names}: "
                             f"last backup expired {iso(when)})", entity(params), utc(when), resolve=True))
    return found


def _message(workspace: str, w: dict, deadline: float, expire: float, params: Params) -> str:
    text = (f"backups in {params.repository} still hold workspace {workspace}, deleted {iso(w['c'])}: kept until "
            f"{iso(expire)}, past the purge deadline {iso(deadline)} ({span(params.max_age.total_seconds())} after "
            f"deletion")
    if w.get("held"):
        text += f", extended {duration(w['held'])} by legal hold {', '.join(w['by'])}"
    return text + ")"


def entity(params: Params) -> Entity:
    """The backup repository holding the data."""
    return Entity(resource=Resource(type="backup_repository", id=params.repository))


def _apply(state: dict, event: Event) -> None:
    """Fold one control event into the state (after the state was evaluated as of its time)."""
    control, ts = event.secmon.control, event.timestamp.timestamp()
    workspace = event.organization.id if event.organization else None
    if control.kind == "backup":
        state["b"] = max(ts, state.get("b", ts))
    elif control.kind == "deletion" and workspace:
        w = {"c": ts, "b": state.get("b") if state.get("b", ts) <= ts else None, "held": 0}
        if holders := _covering(state, workspace):
            w.update(since=ts, by=holders[:MAX_INCIDENTS])
        state["ws"][workspace] = w
        state["ws"] = dict(sorted(state["ws"].items(), key=lambda item: item[1]["c"])[-MAX_WORKSPACES:])
    elif control.status == "opened":
        for name, w in state["ws"].items():
            if not _covering(state, name) and workspace in (None, name):
                w["since"] = ts
            if workspace in (None, name):
                w["by"] = list(dict.fromkeys(w.get("by", []) + [control.incident_id]))[:MAX_INCIDENTS]
        state["holds"][control.incident_id] = workspace
    else:
        _close(state, control.incident_id, ts)


def _close(state: dict, incident: str, ts: float) -> None:
    """A hold closed: workspaces no longer covered resume their clock; their backups were kept till now."""
    if incident not in state["holds"]:
        return
    del state["holds"][incident]
    for name, w in state["ws"].items():
        if "since" in w and not _covering(state, name):
            w["held"] = w.get("held", 0) + max(0.0, ts - w.pop("since"))
            w["kept"] = max(w.get("kept", 0), ts)


def step(state, event: Event, params: Params):
    """Evaluate deadlines as of the event, then apply it."""
    state = _copy(state)
    findings = _evaluate(state, event.timestamp.timestamp(), params)
    _apply(state, event)
    return state, findings


def tick(state, now, params: Params):
    """Evaluate deadlines and expiries as of now."""
    if not state:
        return state, []
    state = _copy(state)
    return state, _evaluate(state, now.timestamp(), params)


def _copy(state) -> dict:
    state = state or {}
    return {**state, "ws": {k: dict(v) for k, v in state.get("ws", {}).items()}, "holds": dict(state.get("holds", {}))}


def key(event: Event) -> str | None:
    """One entity for every relevant control event: successful backups, completed deletions, legal holds."""
    control = event.secmon.control
    if control is None:
        return None
    relevant = ((control.kind == "backup" and control.status == "succeeded")
                or (control.kind == "deletion" and control.status == "completed")
                or (control.kind == "legal_hold" and control.incident_id is not None))
    return KEY if relevant else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, tick=tick)
