"""An SSH account logs in from a network its host group never saw it use (after learning).

State is per host group (`host_groups`, an unlisted host is a group of one), not per user: the
learning period starts when secmon first sees a login on the group, so an account that appears
later (the SotM34 `test` account an attacker guessed) alerts on its very first login, where a
per-user learning period would have learned the attacker's first week. A source is a network
(`prefix_v4`/`prefix_v6`, /24 and /48 by default) so a client renumbered within its provider's
block is not new. Each (user, network) is its own alert: one per attacking source.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.identity import Login, login_of
from detectors.rules._ssh import source_endpoint
from schemas.event import Event, Host, User

DAY_SECONDS = 86400
SHOWN_KNOWN = 5

META = DetectorMeta(
    id="ssh_new_source",
    title="SSH login from a network new for the account",
    description="A successful SSH login of a user on a host group from a source network not seen for "
    "that user there, once the group's learning period is over: a stolen credential used "
    "from elsewhere, or a new account an attacker made or guessed.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("ssh.auth",),
    state=StateSpec(kind="first_seen", key=("host.name",)),
    tags=("attack.initial_access", "attack.t1078", "attack.t1021.004"),
    dedup_period=timedelta(days=7),
)


class Params(BaseModel):
    """Learning period, what a source is, which servers share accounts, and bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_days: float = Field(
        7,
        ge=0,
        description="Days after the first login seen on a host group "
        "during which sources are learned without alerting.",
    )
    prefix_v4: int = Field(24, ge=8, le=32, description="IPv4 prefix length of a source network.")
    prefix_v6: int = Field(48, ge=16, le=128, description="IPv6 prefix length of a source network.")
    host_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Group name -> host name globs (first match wins). An unlisted host is its own group.",
    )
    max_users: int = Field(
        300,
        ge=1,
        le=5000,
        description="Accounts remembered per group (least recently "
        "active dropped first: it starts over, and its next source alerts).",
    )
    max_values: int = Field(
        20,
        ge=1,
        le=500,
        description="Networks remembered per account (least recently "
        "used dropped first). The group's whole state is one entry: keep it small.",
    )
    forget_after_days: float = Field(365, ge=1, description="A group without a login for this long is forgotten.")


def network(login: Login, params: Params) -> str | None:
    """The login's source network (`203.0.113.0/24`), or None without an address."""
    if login.ip is None:
        return None
    addr = ipaddress.ip_address(login.ip)
    prefix = params.prefix_v4 if addr.version == 4 else params.prefix_v6
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def key(event: Event, params: Params) -> str | None:
    """The host group of a successful SSH login."""
    login = login_of(event)
    if login is None or not login.success or login.host is None or not login.user:
        return None
    return login.scoped(params.host_groups).scope


def step(state: State | None, event: Event, params: Params):
    """Learn the account's networks on the group; alert on a new one after the learning period."""
    login = login_of(event)
    net = network(login, params) if login is not None and login.success and login.user else None
    if login is None or net is None:
        return state, []
    login = login.scoped(params.host_groups)
    user = login.user or ""
    since = login.ts if state is None else min(state["since"], login.ts)
    users: dict[str, list] = {} if state is None else state["users"]
    seen = users.pop(user, [])
    before = [n for n, _ in seen]
    last = max([t for n, t in seen if n == net] + [login.ts])
    users[user] = sorted([[n, t] for n, t in seen if n != net] + [[net, last]], key=lambda p: p[1])[
        -params.max_values :
    ]
    state = {"since": since, "users": dict(list(users.items())[-params.max_users :])}  # dict order: most recent last
    if net in before or login.ts < since + params.learning_days * DAY_SECONDS:
        return state, []
    known = ", ".join(reversed(before[-SHOWN_KNOWN:])) or "none (first login of this account here)"
    finding = Finding(
        message=f"first SSH login of {login.user} on {login.scope} from {net} ({login.ip}); "
        f"networks seen before: {known}",
        entity=Entity(
            user=User(name=login.user),
            source=source_endpoint(event),
            host=Host(name=login.host) if login.host else None,
        ),
        timestamp=event.timestamp,
        event_ids=(login.event_id,),
        datasets=(event.event.dataset,),
        variant=f"{login.user}|{net}",
    )
    return state, [finding]


DETECTOR = Detector(
    meta=META, params=Params, step=step, key_with=key, ttl=lambda params: params.forget_after_days * DAY_SECONDS
)
