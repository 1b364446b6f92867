"""Failed AWS logins in a burst: console passwords (ConsoleLogin) and denied STS token calls.

Per AWS account, over the shared `Login` shape (detectors/identity.py). Three findings, each its
own alert so an analyst sees one per attacking source:
- `threshold` failures from one source IP within the window (whatever the users): that IP.
- `threshold` failures for one user from several IPs, none of which alerted on its own (a spread
  guess): that user. A burst from one IP is the IP's alert only, not a second one for its user.
- a successful login of a user after at least `success_after` failures for that user within the
  window (from any IPs): high, the guessing may have worked. The success ends the burst: failures
  before an earlier success of the user do not count. Successes are kept for the window, so a
  failure delivered after the success it preceded (CloudTrail files arrive out of order) still
  raises the same alert, dated at the success.
CloudTrail hides the name of a failed console login for a user that does not exist: such failures
count per IP only. AssumeRole denials are left out by default: services retrying a role they may
not assume make them routine.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.identity import Login, login_of
from detectors.rules._signin import duration, source_of
from schemas.ecs import Cloud, CloudAccount
from schemas.event import Endpoint, Event, User

MAX_ENTRIES = 200  # per IP or user: bounds the state whatever the threshold
MAX_KEYS = 1000  # IPs or users tracked per account, least recently failing dropped first

META = DetectorMeta(
    id="cloud_console_bruteforce",
    title="AWS console or STS login brute force",
    description="Failed AWS ConsoleLogin (and denied GetSessionToken/GetFederationToken) per source IP "
    "and per user within the window, and a successful login after such failures.",
    version=1,
    severity="medium",  # a success after the failures is high
    maturity="stable",
    datasets=("aws.cloudtrail",),
    state=StateSpec(kind="sliding_window", key=("cloud.account.id",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110", "attack.initial_access", "attack.t1078.004"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """Burst size, window, what counts as a login, and the success-after-failures threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(5, ge=2, description="Failures from one IP (or for one user) that make a burst.")
    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")
    success_after: int = Field(
        3,
        ge=1,
        description="Failures for a user within the window before a successful login that make the success suspicious.",
    )
    calls: list[str] = Field(
        ["ConsoleLogin", "GetSessionToken", "GetFederationToken"],
        description="CloudTrail eventNames read as logins (AssumeRole* may be added).",
    )


def key(event: Event, params: Params) -> str | None:
    """The AWS account of a login call."""
    login = login_of(event)
    if login is None or login.source not in ("aws_console", "aws_sts") or event.event.action not in params.calls:
        return None
    return login.scope


def step(state: State | None, event: Event, params: Params):
    """Count the account's failures per IP and per user; judge the user's successes by them."""
    login = login_of(event)
    if login is None:
        return state, []
    state = state or {"ip": {}, "user": {}, "ok": {}}
    findings = []
    if login.success:
        if login.user:
            oks = sorted(state["ok"].pop(login.user, []) + [[login.ts, login.event_id, login.ip or "unknown", 0]])
            state["ok"][login.user] = [o for o in oks if o[0] > oks[-1][0] - params.window_seconds][-MAX_ENTRIES:]
            findings += _successes(state, login, event, params)
        return _trim(state, login.ts, params), findings
    entry = [login.ts, login.event_id, login.ip or "-", login.user or "", 0]  # last: claimed by an IP alert
    if login.ip:
        ip_entries = _add(state["ip"], login.ip, entry, params)
        if len(ip_entries) >= params.threshold:
            findings.append(_ip_finding(login, ip_entries, event, params))  # each more failure updates it
            for entries in state["user"].values():
                for e in entries:
                    e[4] = e[4] or int(e[2] == login.ip)
    if login.user:
        user_entries = _add(state["user"], login.user, entry, params)
        free = [e for e in user_entries if not e[4]]
        if len({e[2] for e in free}) >= 2 and len(free) >= params.threshold:
            findings.append(_user_finding(login, free, event, params))
            for e in free:
                e[4] = 1
        if login.user in state["ok"]:
            findings += _successes(state, login, event, params)
    return _trim(state, login.ts, params), findings


def _add(table: dict[str, list], name: str, entry: list, params: Params) -> list:
    """Insert the entry in time order; keep what lies within the window of the newest one."""
    entries = sorted(table.pop(name, []) + [list(entry)])
    newest = entries[-1][0]
    table[name] = [e for e in entries if e[0] > newest - params.window_seconds][-MAX_ENTRIES:]
    return table[name]


def _trim(state: State, now: float, params: Params) -> State:
    """Drop IPs and users whose latest entry left the window; keep the MAX_KEYS most recent."""
    since = now - params.window_seconds
    return {
        name: dict([(k, v) for k, v in state[name].items() if v and v[-1][0] > since][-MAX_KEYS:])
        for name in ("ip", "user", "ok")
    }


def _entity(event: Event, login: Login, user: str | None, with_source: bool) -> Entity:
    return Entity(
        user=User(name=user) if user else None,
        source=source_of(event) if with_source else None,
        cloud=Cloud(provider="aws", account=CloudAccount(id=login.scope)),
    )


def _span(entries: list) -> str:
    return duration(entries[-1][0] - entries[0][0])


def _ip_finding(login: Login, entries: list, event: Event, params: Params) -> Finding:
    users = sorted({e[3] for e in entries if e[3]})
    named = f"user {users[0]}" if len(users) == 1 else f"{len(users)} users" if users else "unknown users"
    return Finding(
        message=f"{len(entries)} failed AWS logins from {login.ip} within {_span(entries)} ({named}, "
        f"account {login.scope})",
        entity=_entity(event, login, users[0] if len(users) == 1 else None, True),
        timestamp=event.timestamp,
        event_ids=tuple(e[1] for e in entries),
        datasets=(event.event.dataset,),
        variant=f"ip|{login.ip}",
    )


def _user_finding(login: Login, entries: list, event: Event, params: Params) -> Finding:
    ips = sorted({e[2] for e in entries})
    return Finding(
        message=f"{len(entries)} failed AWS logins for {login.user} from {len(ips)} IPs within "
        f"{_span(entries)} ({', '.join(ips[:5])}; account {login.scope})",
        entity=_entity(event, login, login.user, False),
        timestamp=event.timestamp,
        event_ids=tuple(e[1] for e in entries),
        datasets=(event.event.dataset,),
        variant=f"user|{login.user}",
    )


def _successes(state: State, login: Login, event: Event, params: Params) -> list[Finding]:
    """Findings for the user's successes not yet alerted that follow enough failures (counted
    from the previous success on, within the window)."""
    failures = state["user"].get(login.user, [])
    findings, previous = [], float("-inf")
    for ok in state["ok"][login.user]:
        ts, ok_id, ok_ip, alerted = ok
        before = [e for e in failures if max(ts - params.window_seconds, previous) < e[0] <= ts]
        previous = ts
        if alerted or len(before) < params.success_after:
            continue
        ok[3] = 1
        ips = sorted({e[2] for e in before})
        findings.append(
            Finding(
                message=f"successful AWS login for {login.user} from {ok_ip} after {len(before)} failed logins "
                f"within {params.window_seconds}s (from {', '.join(ips[:5])}; account {login.scope})",
                entity=Entity(
                    user=User(name=login.user),
                    source=source_of(event)
                    if ok_id == login.event_id
                    else Endpoint(ip=ok_ip)
                    if ok_ip != "unknown"
                    else None,
                    cloud=Cloud(provider="aws", account=CloudAccount(id=login.scope)),
                ),
                timestamp=datetime.fromtimestamp(ts, timezone.utc),
                event_ids=tuple(e[1] for e in before) + (ok_id,),
                datasets=(event.event.dataset,),
                severity="high",
                variant=f"success|{login.user}",
            )
        )
    return findings


DETECTOR = Detector(meta=META, params=Params, step=step, key_with=key, ttl=lambda params: params.window_seconds)
