"""A successful login right after a burst of failures for the same account: guessing that got in.

Every login source (detectors/rules/_attempts.py), keyed per account as signin_bruteforce_user.
A success ends the burst: failures before an earlier success of the account do not count for a
later one. Successes are kept for the window, so a failure delivered after the success it
preceded (CloudTrail files and shipped logs arrive out of order) still raises the same alert,
dated at the success.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from operator import itemgetter

from pydantic import Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Finding, State, StateSpec
from detectors.identity import Login, LoginSource
from detectors.rules import _attempts
from schemas.event import Endpoint, Event

_TIME = itemgetter(0)
MAX_SUCCESSES = 200  # per account and window: bounds the state whatever the login rate

META = DetectorMeta(
    id="signin_success_after_failures",
    title="Successful sign-in after a burst of failures",
    description="An account logs in successfully (app, SSH, AWS console/STS) after N failed attempts "
    "for the same account within the window before it (from any addresses): the guessing may have worked.",
    version=2,
    severity="high",
    maturity="stable",
    datasets=_attempts.DATASETS,
    state=StateSpec(kind="sliding_window", key=("user.name",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110", "attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(hours=1),
)


class Params(_attempts.CountingParams):
    """How many failures within the window before a success make it suspicious, per login source."""

    threshold: int = Field(5, ge=1, description="Failed attempts before the success that make a burst.")
    threshold_by_source: dict[LoginSource, int] = Field(
        default_factory=lambda: _attempts.for_aws(3), description="`threshold` for these sources instead."
    )


def key(event: Event, params: Params) -> str | None:
    """The account entity of any attempt (see _attempts.user_key)."""
    login = _attempts.read(event, params)
    return _attempts.user_key(login) if login is not None else None


def step(state: State | None, event: Event, params: Params):
    """Keep the account's failures and successes of the window; judge each success not yet alerted."""
    login = _attempts.read(event, params)
    if login is None:
        return state, []
    state = state or {"w": [], "ok": []}
    if login.success:
        if any(o[1] == login.event_id for o in state["ok"]):
            return state, []  # delivered twice (at-least-once): judged already
        oks = sorted([*state["ok"], [login.ts, login.event_id, login.client or "unknown", 0]])
        kept = [o for o in oks if o[0] > oks[-1][0] - params.window_seconds][-MAX_SUCCESSES:]
        if len(kept) < len(oks):  # a success that leaves still ends the burst before the next one
            state["floor"] = max(state.get("floor", float("-inf")), max(o[0] for o in oks if o not in kept))
        state["ok"] = kept
    else:
        state["w"] = windows.add({"w": state["w"]}, login.ts, _attempts.item(login), params.window_seconds)["w"]
    window, oks = state["w"], state["ok"]  # both in time order: the newest last, the oldest cut by bisection
    newest = max(window[-1][0] if window else float("-inf"), oks[-1][0] if oks else float("-inf"))
    state["w"] = window[bisect_right(window, newest - 2 * params.window_seconds, key=_TIME) :]
    findings = _judge(state, login, event, params)
    return (state if state["w"] or state["ok"] else None), findings


def _judge(state: State, login: Login, event: Event, params: Params) -> list[Finding]:
    """Findings for the successes not yet alerted that follow enough failures (counted from the
    previous success on, within the window)."""
    threshold = params.threshold_by_source.get(login.source, params.threshold)
    findings, previous = [], state.get("floor", float("-inf"))
    window = state["w"]  # in time order (windows.add): each success's failures are one slice
    for ok in state["ok"]:
        ts, ok_id, ok_ip, alerted = ok
        low, previous = max(ts - params.window_seconds, previous), ts
        if alerted:
            continue
        # O(log n) per success, not a scan of the window: 200 successes x 1,000 failures at the bounds
        chunk = window[bisect_right(window, low, key=_TIME) : bisect_right(window, ts, key=_TIME)]
        before = [item for _, item in chunk]
        if _attempts.attempts(before) < threshold:
            continue
        ok[3] = 1
        findings.append(_finding(login, event, params, before, ok))
    return findings


def _finding(login: Login, event: Event, params: Params, before: list[str], ok: list) -> Finding:
    ts, ok_id, ok_ip, _ = ok
    ips = _attempts.clients(before)
    one, many = _attempts.NOUNS[login.source]
    entity = _attempts.entity(event, login, with_user=True, with_source=True)
    if ok_id != login.event_id:  # a late failure completed the burst: the alert is about the success
        entity = replace(entity, source=Endpoint(ip=ok_ip) if ok_ip != "unknown" else None)
    return Finding(
        message=f"successful {one} for {login.user} from {ok_ip}{_attempts.where(login)} after "
        f"{_attempts.attempts(before)} failed {many} within {params.window_seconds}s "
        f"(from {len(ips)} IP{'s' if len(ips) > 1 else ''}: {', '.join(ips[:5])})",
        entity=entity,
        timestamp=datetime.fromtimestamp(ts, timezone.utc),
        event_ids=_attempts.event_ids(before) + (ok_id,),
        datasets=(event.event.dataset,),
    )


DETECTOR = Detector(meta=META, params=Params, step=step, key_with=key, ttl=lambda params: params.window_seconds)
