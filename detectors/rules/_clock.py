"""Deadlines and heartbeats, shared by the timed detectors (backups, restore tests, laptops, sources).

A heartbeat entity is "healthy" while its last success is younger than its maximum age. The same
`check` runs from the timer (`tick`) and from `step`, before the event is applied: the embedded
runner and the case runner process an event before they tick, so a gap the clock never ticked
through must still raise its alert, dated at the deadline that was missed. A missed deadline is
reported once (`alerted` remembers it); the next success resolves the alert.

State (JSON, a few numbers per entity): `since` (when the clock started: first event or first
tick of a seeded entity), `last` (last success), `alerted` (the deadline reported), plus whatever
the detector adds (e.g. the last failure reason for its message).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator

from detectors.base import DUE, State

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A job id is a run id ("bk-20261130-0200", "backup-secmon-2026.11.30-020000",
# "restore-test-20261130T101500Z"): the job is what is left once the trailing parts that start
# with a digit are cut ("bk", "backup-secmon", "restore-test").
RUN_SUFFIX = re.compile(r"(?:[-_][0-9][^-_]*)+$")


def _to_timedelta(value: Any) -> Any:
    """`15m`, `26h`, `90d`, `30s` or plain seconds -> timedelta (ISO 8601 `P1D` is left to pydantic)."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and not value.strip().upper().startswith("P"):
        raise ValueError(f"{value!r} is not a duration: write a number and a unit, e.g. 30s, 15m, 26h, 90d")
    return value


# A parameter type: a duration written `15m`, `26h` or `90d` in the YAML configuration.
Duration = Annotated[timedelta, BeforeValidator(_to_timedelta)]


def utc(ts: float) -> datetime:
    """An epoch timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def iso(ts: float) -> str:
    """An epoch timestamp as `2026-11-30T02:41Z` for messages."""
    return utc(ts).strftime("%Y-%m-%dT%H:%MZ")


def job_name(job_id: str | None) -> str | None:
    """The job a run belongs to: the run id without its trailing run-specific parts."""
    if not job_id:
        return None
    return RUN_SUFFIX.sub("", job_id) or job_id


def check(state: State | None, now: float, max_age: float) -> tuple[State, float | None]:
    """(state, the deadline missed as of `now`, or None). The clock starts at the first sight."""
    state = dict(state or {})
    state.setdefault("since", now)
    due: float = (state["last"] if "last" in state else state["since"]) + max_age
    if now < due or state.get("alerted") == due:
        return state, None
    state["alerted"] = due
    return state, due


def next_due(state: State, max_age: float | None) -> float | None:
    """The deadline `check` will next report for this state (its detector's `deadline`), or None."""
    if max_age is None:
        return None
    if "since" not in state:
        return DUE
    due: float = (state["last"] if "last" in state else state["since"]) + max_age
    return None if state.get("alerted") == due else due


def beat(state: State, ts: float) -> tuple[State, bool]:
    """Record a success at `ts` on a state `check`ed at `ts`: (state, whether the alert clears)."""
    if ts <= state.get("last", float("-inf")):
        return state, False  # an older success replayed late changes nothing
    state = {**state, "last": ts}
    cleared = state.pop("alerted", None) is not None
    return state, cleared


def span(seconds: float) -> str:
    """A duration as written in the parameters: `90d`, `26h`, `24h`, `15m`, `45s` (days above 3)."""
    seconds = int(seconds)
    if seconds > 3 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def silence(state: State, max_age: float) -> str:
    """`last at 2026-11-29T02:41Z, 26h allowed`: what a missed deadline was measured from."""
    if "last" in state:
        return f"last at {iso(state['last'])}, {span(max_age)} allowed"
    return f"none since monitoring began at {iso(state['since'])}, {span(max_age)} allowed"
