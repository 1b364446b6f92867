"""Aggregation groups (Alertmanager semantics) as pure functions over one JSON state per group.

A group is one (route, receiver, group label values). Its state (`schemas.delivery.GroupState`)
holds the alerts it has seen, what the receiver was last told about each (`sent`), which are
silenced (`muted`) and at most one notification in flight (`outbox`). Timing, as in Alertmanager:

- a new group sends its first notification `group_wait` after it was created;
- a new, or newly resolved, alert in a notified group is sent `group_interval` after the last
  notification; an alert whose count only grew ("still happening") waits `repeat_interval`;
- a group with nothing to send and no new finding for `repeat_interval` expires (is deleted);
  its next alert starts a new group.

The notification in the outbox keeps its id and content across retries; it is cleared only when
the receiver accepted it or it was dead-lettered, and changes wait until then. The caller keeps
the state in a StateStore-like table and calls `due_at` to know when to come back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.delivery.routing import compact_json
from schemas.delivery import GROUP_VERSION, GroupState, Outbox

MAX_GROUP_ALERTS = 500  # alerts remembered per group; beyond it the least recent sent one is forgotten
MAX_NOTIFY_ALERTS = 50  # alerts carried in one notification; the rest are counted as truncated
MAX_EVENT_IDS = 10  # event ids kept per alert in a notification (the full list is in Elasticsearch)


@dataclass
class Plan:
    """What to do with a group now: send its outbox, record new silences, or expire it."""

    state: GroupState
    send: Outbox | None = None  # the outbox notification to attempt now
    silenced: list[tuple[str, str]] = field(default_factory=list)  # (alert id, silence id) newly muted
    expire: bool = False


def new_group(
    key: str,
    route: str,
    receiver: str,
    labels: dict[str, str],
    timing: tuple[float, float, float],
    partition: int,
    now: float,
) -> GroupState:
    """An empty group created now; `partition` is the one its messages (and changelog) live in."""
    return {
        "v": GROUP_VERSION,
        "key": key,
        "partition": partition,
        "route": route,
        "receiver": receiver,
        "labels": labels,
        "timing": {"wait": timing[0], "interval": timing[1], "repeat": timing[2]},
        "created": now,
        "changed": now,
        "sent_at": None,
        "alerts": {},
        "sent": {},
        "muted": {},
        "hold": None,
        "outbox": None,
        "overflow": 0,
        "due": None,
    }


def add_alert(state: GroupState, doc: dict[str, Any], now: float) -> GroupState:
    """Record an alert (new, grown or resolved) in the group; an older update never replaces a newer one."""
    state = _copy(state)
    alert = doc["alert"]
    current = state["alerts"].get(alert["id"])
    if current is not None and (current["count"], current["status"] == "resolved") > (
        alert["count"],
        alert["status"] == "resolved",
    ):
        return state
    state["alerts"][alert["id"]] = {"doc": _trim(doc), "count": alert["count"], "status": alert["status"], "seen": now}
    state["changed"] = now
    _bound(state)
    state["due"] = due_at(state)
    return state


def due_at(state: GroupState) -> float | None:
    """When the group next needs attention (send, retry or expire); None = never (empty)."""
    if state["outbox"] is not None:
        return state["outbox"]["next"]
    if not state["alerts"]:
        return state["changed"]  # nothing left: expire at once
    return min(t for t in (_send_due(state), _expiry(state)) if t is not None)


def plan(state: GroupState, now: float, silenced_by: Callable[[dict[str, Any]], str | None]) -> Plan:
    """Decide for `now`: retry the outbox, build a notification (after silences), expire, or wait."""
    state = _copy(state)
    if state["outbox"] is not None:
        return Plan(state, send=state["outbox"] if state["outbox"]["next"] <= now else None)
    send_due = _send_due(state)
    result = Plan(state)
    if send_due is not None and send_due <= now:
        muted = {aid: sid for aid, a in state["alerts"].items() if (sid := silenced_by(a["doc"])) is not None}
        result.silenced = [(aid, sid) for aid, sid in muted.items() if state["muted"].get(aid) != sid]
        state["muted"] = muted
        changed = [aid for aid in _pending(state) if aid not in muted]
        if changed:
            state["outbox"] = _notification(state, changed, now)
            result.send = state["outbox"]
        elif now >= _expiry(state):  # only silenced alerts, quiet for repeat_interval (recorded already)
            result.expire = True
        else:  # everything pending is silenced: look again after group_interval
            state["hold"] = now + _interval(state)
    elif now >= _expiry(state) or not state["alerts"]:
        result.expire = True
    state["due"] = due_at(state)
    return result


def after_attempt(state: GroupState, outcome: str, now: float, next_at: float | None = None) -> GroupState:
    """Apply an attempt's outcome: `delivered`/`dead_letter` clear the outbox, `retry`/`deferred` reschedule it."""
    state = _copy(state)
    box = outbox(state)
    if outcome in ("retry", "deferred"):
        box["attempt"] += outcome == "retry"  # deferred = not attempted (circuit open)
        box["next"] = next_at if next_at is not None else now
    else:
        for aid, version in box["versions"].items():
            state["sent"][aid] = version
            if version[1] == "resolved" and aid in state["alerts"] and state["alerts"][aid]["status"] == "resolved":
                del state["alerts"][aid]  # resolved and told: done with it
                del state["sent"][aid]
        state["outbox"] = None
        state["sent_at"] = now
        state["hold"] = None
        state["overflow"] = 0
    state["due"] = due_at(state)
    return state


def outbox(state: GroupState) -> Outbox:
    """The group's notification in flight (ValueError when there is none: a caller's bug)."""
    box = state["outbox"]
    if box is None:
        raise ValueError(f"group {state['key']} has no notification in flight")
    return box


def notification_id(receiver: str, group_key: str, versions: dict[str, list]) -> str:
    """Deterministic: the same content to the same receiver has the same id (the webhook-id)."""
    text = compact_json([receiver, group_key, sorted(versions.items())])
    return "ntf_" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _notification(state: GroupState, changed: list[str], now: float) -> Outbox:
    """The outbox entry: the group's unmuted alerts (changed first, then latest), capped."""
    others = sorted(
        (aid for aid in state["alerts"] if aid not in state["muted"] and aid not in changed),
        key=lambda aid: -state["alerts"][aid]["seen"],
    )
    ids = (sorted(changed, key=lambda aid: -state["alerts"][aid]["seen"]) + others)[:MAX_NOTIFY_ALERTS]
    versions = {aid: [state["alerts"][aid]["count"], state["alerts"][aid]["status"]] for aid in ids}
    truncated = len(changed) + len(others) - len(ids) + state["overflow"]
    resolved = all(v[1] == "resolved" for v in versions.values())
    return {
        "id": notification_id(state["receiver"], state["key"], versions),
        "created": now,
        "attempt": 0,
        "next": now,
        "since": now,
        "versions": versions,
        "changed": [a for a in ids if a in changed],
        "docs": [state["alerts"][aid]["doc"] for aid in ids],
        "truncated": truncated,
        "status": "resolved" if resolved else "firing",
    }


def _copy(state: GroupState) -> GroupState:
    """A copy safe to change: entries are replaced, never mutated, so the maps are copied shallowly."""
    out = state.copy()
    out["alerts"], out["sent"], out["muted"] = dict(state["alerts"]), dict(state["sent"]), dict(state["muted"])
    if state["outbox"] is not None:
        out["outbox"] = state["outbox"].copy()
    return out


def _pending(state: GroupState) -> list[str]:
    """Alerts the receiver has not been told about in their current form."""
    return [aid for aid, a in state["alerts"].items() if state["sent"].get(aid) != [a["count"], a["status"]]]


def _send_due(state: GroupState) -> float | None:
    t = state["timing"]
    wait, interval, repeat = t["wait"], t["interval"], t["repeat"]
    pending = _pending(state)
    if not pending:
        return None
    if state["sent_at"] is None:
        due = state["created"] + wait
    elif any(aid not in state["sent"] or state["sent"][aid][1] != state["alerts"][aid]["status"] for aid in pending):
        due = state["sent_at"] + interval
    else:  # only counts grew
        due = state["sent_at"] + repeat
    return max(due, state["hold"] or due)


def _expiry(state: GroupState) -> float:
    return max(state["changed"], state["sent_at"] or 0.0) + state["timing"]["repeat"]


def _interval(state: GroupState) -> float:
    return max(1.0, state["timing"]["interval"])


def _bound(state: GroupState) -> None:
    """Forget the least recent alerts past MAX_GROUP_ALERTS, sent ones first; count unsent losses."""
    alerts = state["alerts"]
    while len(alerts) > MAX_GROUP_ALERTS:
        told = [aid for aid in alerts if state["sent"].get(aid) == [alerts[aid]["count"], alerts[aid]["status"]]]
        victim = min(told or list(alerts), key=lambda aid: alerts[aid]["seen"])
        if not told:
            state["overflow"] += 1
        del alerts[victim]
        state["sent"].pop(victim, None)
        state["muted"].pop(victim, None)


def _trim(doc: dict[str, Any]) -> dict[str, Any]:
    """The alert as carried in notifications: its latest event ids only."""
    secmon = doc.get("secmon")
    if not secmon or len(secmon.get("event_ids", [])) <= MAX_EVENT_IDS:
        return doc
    return {**doc, "secmon": {**secmon, "event_ids": secmon["event_ids"][-MAX_EVENT_IDS:]}}
