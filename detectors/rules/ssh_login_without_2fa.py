"""An SSH session accepted with one factor only, on a server whose policy requires two.

sshd logs a two-factor login (`AuthenticationMethods publickey,keyboard-interactive`) as two
lines of one connection (same user, source address and port): `Partial publickey ...` (OpenSSH
>= 6.8; older versions wrote `Accepted publickey ...`) then `Accepted keyboard-interactive/pam
...`. The second factor comes AFTER the first acceptance, so a lone `Accepted` cannot alert at
once: it is kept pending for `pair_seconds` and alerts when that window passed without another
method on the same connection, found by the engine's timer (`tick`) or by the next event of the
same user, host and client, whichever comes first. A second factor must be a different method
(two public keys are two things one has); `secmon.auth.mfa` true, or a method listed in
`two_factor_methods` (a PAM stack asking password + OTP), is two factors on its own.

Which hosts require 2FA: the asset table's `requires_2fa` column (`secmon.context.asset_requires_2fa`,
set by the context enricher from assets.csv) decides for a host it lists, true or false; a host the
table does not list (or no table loaded) requires it when it matches `require_2fa_hosts`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.rules import _ssh
from schemas.event import Endpoint, Event, Host, User

MAX_PENDING = 50  # connections one user+host+client opens within pair_seconds; bounds the state
FIRST, PARTIAL = "a", "p"  # a pending Accepted line (may alert) / a pending Partial line (never alerts)

META = DetectorMeta(
    id="ssh_login_without_2fa",
    title="SSH login without a second factor",
    description="sshd accepted a session with a single authentication method on a host whose "
    "policy requires two factors: a stolen key or password is enough to get in.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=(_ssh.DATASET,),
    state=StateSpec(kind="sequence", key=("user.name", "host.name", "source.ip"), window=timedelta(minutes=2)),
    tags=("policy.server_2fa", "attack.initial_access", "attack.t1078", "attack.lateral_movement", "attack.t1021.004"),
    dedup_period=timedelta(days=1),
)


class Params(BaseModel):
    """Where 2FA is required, who is exempt, and how long a second factor may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require_2fa_hosts: list[str] = Field(
        ["*"],
        description="host.name values or glob patterns (e.g. bastion-*) "
        "that require 2FA when the asset table does not list the host (its "
        "requires_2fa column decides for the hosts it lists); matched "
        "case-insensitively. Default: every host.",
    )
    exempt_users: list[str] = Field(
        default_factory=list,
        description="Accounts never required to use 2FA (e.g. a deploy account restricted by other means).",
    )
    pair_seconds: int = Field(
        120,
        ge=1,
        le=3600,
        description="How long after the first accepted method the second may come on the same connection.",
    )
    two_factor_methods: list[str] = Field(
        default_factory=list,
        description="Methods that are two factors on "
        "their own here (e.g. keyboard-interactive when PAM asks password + OTP).",
    )


def key(event: Event) -> str | None:
    """`<user>|<host>|<client>` of accepted methods (Accepted and Partial lines) only."""
    if event.event.outcome != "success" or event.event.action not in ("ssh_login", "ssh_partial_auth"):
        return None
    user, address = _ssh.user_name(event), _ssh.source_address(event)
    if not user or address is None:
        return None
    return f"{user}|{_ssh.host_name(event) or _ssh.NO_HOST}|{address}"


def applies(event: Event, params: Params) -> bool:
    """True when policy requires 2FA for this user on this host (the asset table first, then the parameter)."""
    if _ssh.user_name(event) in params.exempt_users:
        return False
    listed = event.secmon.context.asset_requires_2fa if event.secmon.context else None
    if listed is not None:
        return listed
    return _ssh.matches_any(_ssh.host_name(event), params.require_2fa_hosts)


def step(state: State | None, event: Event, params: Params):
    """Settle what expired by this event's time, then pair or hold this accepted method."""
    state, findings = expire(state, event.timestamp.timestamp(), params)
    if key(event) is None or not applies(event, params):
        return state, findings
    state = state or _new_state(event)
    pending = dict(state["p"])
    conn = _ssh.connection(event)
    prior = pending.get(conn)
    method = event.secmon.auth.method if event.secmon.auth else None
    if event.event.action == "ssh_partial_auth":
        if prior is None:
            pending[conn] = _entry(event, PARTIAL)
    elif _is_two_factor(event, params) or (prior is not None and prior["m"] != method):
        pending.pop(conn, None)  # a complete two-factor session: nothing to report
    elif prior is None or prior["k"] == PARTIAL:
        pending[conn] = _entry(event, FIRST)
    pending = dict(sorted(pending.items(), key=lambda kv: kv[1]["t"])[-MAX_PENDING:])
    return ({**state, "p": pending} if pending else None), findings


def tick(state: State | None, now: datetime, params: Params):
    """The timer: sessions whose pairing window ended by `now` without a second factor alert.

    Pending Partial lines are left to event time: live, `now` is the wall clock, and while the
    worker catches up a tick can fall between a Partial line and its Accepted line; dropping the
    Partial there would make that 2FA session look like a one-factor one."""
    return expire(state, now.timestamp(), params, kinds=(FIRST,))


def expire(
    state: State | None, now: float, params: Params, kinds: tuple[str, ...] = (FIRST, PARTIAL)
) -> tuple[State | None, list[Finding]]:
    """Drop pending methods of `kinds` older than `pair_seconds`; an expired lone Accepted is a finding."""
    if not state:
        return None, []
    keep, findings = {}, []
    for conn, entry in state["p"].items():
        if entry["k"] not in kinds or now <= entry["t"] + params.pair_seconds:
            keep[conn] = entry
        elif entry["k"] == FIRST:
            findings.append(_finding(state, conn, entry, params))
    findings.sort(key=lambda f: f.timestamp)
    return ({**state, "p": keep} if keep else None), findings


def deadline(state: State, params: Params) -> float | None:
    """When the oldest pending Accepted line's pairing window ends (the tick alerts just after)."""
    return min((e["t"] + params.pair_seconds for e in state["p"].values() if e["k"] == FIRST), default=None)


def _is_two_factor(event: Event, params: Params) -> bool:
    auth = event.secmon.auth
    if auth is None:
        return False
    return auth.mfa is True or (auth.method is not None and auth.method in params.two_factor_methods)


def _new_state(event: Event) -> State:
    src = event.source
    return {"u": _ssh.user_name(event), "h": _ssh.host_name(event), "ip": src.ip, "dom": src.domain, "p": {}}


def _entry(event: Event, kind: str) -> State:
    method = event.secmon.auth.method if event.secmon.auth else None
    return {"t": event.timestamp.timestamp(), "id": event.event.id, "m": method, "k": kind}


def _finding(state: State, conn: str, entry: State, params: Params) -> Finding:
    deadline = datetime.fromtimestamp(entry["t"] + params.pair_seconds, tz=timezone.utc)
    login = datetime.fromtimestamp(entry["t"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    port = f" port {conn}" if not conn.startswith("e") else ""
    return Finding(
        message=f"{state['u']} logged in to {state['h'] or 'an unnamed host'} over SSH from "
        f"{state['ip'] or state['dom']}{port} at {login} with {entry['m'] or 'an unknown method'} only: "
        f"no second factor within {params.pair_seconds}s",
        entity=Entity(
            user=User(name=state["u"]),
            host=Host(name=state["h"]) if state["h"] else None,
            source=Endpoint(ip=state["ip"], domain=state["dom"]),
        ),
        timestamp=deadline,
        event_ids=(entry["id"],),
        datasets=(_ssh.DATASET,),
    )


DETECTOR = Detector(
    meta=META, params=Params, step=step, key=key, tick=tick, deadline=deadline, ttl=lambda params: params.pair_seconds
)
