"""One source address failing for many different users: password spraying (one guess, many accounts).

App sign-ins and AWS console/STS logins (per account), over the shared attempt shape
(detectors/rules/_attempts.py). User names are compared case-insensitively (`Bob@x` and `bob@x`
are one app account; IAM user names are unique regardless of case). SSH's form of it, many
names tried by one client across servers, is `ssh_user_enumeration`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Finding, StateSpec
from detectors.identity import LoginSource
from detectors.rules import _attempts
from schemas.event import Event

META = DetectorMeta(
    id="signin_password_spray",
    title="Password spray from one source IP",
    description="Failed logins (app, AWS console/STS, Okta) for many distinct users from the same source IP "
    "within the window: few guesses per account stay under per-user lockouts, the spread gives it away.",
    version=2,
    severity="high",
    maturity="stable",
    datasets=("app.signin", "aws.cloudtrail", "okta.system"),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110.003"),
    dedup_period=timedelta(hours=1),
)


class Params(_attempts.CountingParams):
    """How many distinct users within which window make a spray."""

    min_users: int = Field(10, ge=2, description="Distinct user names failing from one IP that make a spray.")
    sources: list[LoginSource] = Field(
        default_factory=lambda: _attempts.sources_but("ssh"),
        description="Login sources read (SSH: ssh_user_enumeration).",
    )


def key(event: Event, params: Params) -> str | None:
    """The address entity of a failed attempt (see _attempts.ip_key)."""
    login = _attempts.read(event, params)
    return _attempts.ip_key(login) if login is not None and not login.success else None


def step(state, event: Event, params: Params):
    """Remember (event id, user) of each failure; alert once enough distinct users failed."""
    login = _attempts.read(event, params)
    if login is None or login.success:
        return state, []
    state = windows.add(state, login.ts, f"{login.event_id} {(login.user or '').lower()}", params.window_seconds)
    users = windows.distinct(state, lambda i: i.split(" ", 1)[1]) - {""}
    if len(users) < params.min_users:
        return state, []
    entries = list(dict.fromkeys(windows.items(state)))  # an event delivered twice is one failure
    finding = Finding(
        message=f"failed {_attempts.NOUNS[login.source][1]} for {len(users)} distinct users from {login.client}"
        f"{_attempts.where(login)} within {params.window_seconds}s ({len(entries)} failures)",
        entity=_attempts.entity(event, login, with_user=False, with_source=True),
        timestamp=event.timestamp,
        event_ids=tuple(i.split(" ", 1)[0] for i in entries),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, key_with=key, ttl=lambda params: params.window_seconds)
