"""Two successful SSH logins of one account from places no traveller could cover in between.

The travel logic is the sign-in detector's (detectors/rules/_travel.py), read over the same
`Login` shape. An SSH account is a user name on a host group: `root` on two unrelated servers is
two accounts, `alice` on every bastion one (`host_groups`; an unlisted host is a group of one).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from detectors.identity import login_of
from detectors.rules._ssh import source_endpoint
from detectors.rules._travel import TravelParams, hop_text, travel_step, travel_ttl
from schemas.event import Endpoint, Event, Host, User

META = DetectorMeta(
    id="ssh_impossible_travel",
    title="Impossible travel between two SSH logins",
    description="Consecutive successful SSH logins of one user on one host group from places too far "
    "apart for the time between them: a stolen key or password used from elsewhere.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("ssh.auth",),
    state=StateSpec(kind="last_seen", key=("user.name", "host.name")),
    tags=("attack.initial_access", "attack.t1078", "attack.lateral_movement", "attack.t1021.004"),
    dedup_period=timedelta(hours=6),
)


class Params(TravelParams):
    """The sign-in travel thresholds, and which servers share accounts."""

    host_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Group name -> host name "
        "globs (first match wins); logins of one user anywhere in a "
        "group are one account's. An unlisted host is its own group.",
    )


def step(state, event, params: Params):
    """Compare the login with the account's last located one; keep the newer of the two."""
    login = login_of(event)
    if login is None or not login.success or not login.user:
        return state, []
    login = login.scoped(params.host_groups)
    state, hop = travel_step(state, login, params)
    if hop is None:
        return state, []
    first, second, _ = hop
    source = source_endpoint(event) if second["id"] == login.event_id else Endpoint(ip=second["ip"])
    finding = Finding(
        message=f"impossible travel for SSH user {login.user} on {login.scope}: {hop_text(hop)}",
        entity=Entity(user=User(name=login.user), source=source, host=Host(name=login.host) if login.host else None),
        timestamp=event.timestamp,
        event_ids=(first["id"], second["id"]),
        datasets=(event.event.dataset,),
    )
    return state, [finding]


def key(event: Event, params: Params) -> str | None:
    """`<user>|<host group>` of a successful SSH login."""
    login = login_of(event)
    if login is None or not login.success or not login.user:
        return None
    return f"{login.user}|{login.scoped(params.host_groups).scope}"


DETECTOR = Detector(meta=META, params=Params, step=step, key_with=key, ttl=travel_ttl)
