"""A successful SSH login as root: direct root access bypasses per-person accounts and sudo logs.

Only successes alert (any method: password, publickey, keyboard-interactive...); failed root
logins are ssh_bruteforce's business, and a first factor (`Partial ...`) is not yet a login.
Automation that must log in as root (backup or config-management hosts) is exempted by source
network in `exempt_sources`, never by turning the detector off.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

from detectors.base import Detector, DetectorMeta, Finding, StateSpec
from detectors.rules import _ssh
from schemas.event import Event

ROOT = "root"

META = DetectorMeta(
    id="ssh_root_login",
    title="Successful SSH login as root",
    description="sshd accepted a login for root (any method): who did it cannot be told apart, "
    "and the session skips sudo's audit trail. PermitRootLogin should be 'no'.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=(_ssh.DATASET,),
    state=StateSpec(kind="none", key=("host.name", "source.ip")),
    tags=(
        "attack.initial_access",
        "attack.privilege_escalation",
        "attack.t1078",
        "attack.t1078.003",
        "attack.lateral_movement",
        "attack.t1021.004",
    ),
    dedup_period=timedelta(days=1),
)


class Params(BaseModel):
    """Sources allowed to log in as root."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exempt_sources: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Client networks or addresses (e.g. 10.20.0.0/24, 192.0.2.7) whose root logins are expected.",
    )


def _is_root_login(event: Event) -> bool:
    return event.event.action == "ssh_login" and event.event.outcome == "success" and _ssh.user_name(event) == ROOT


def key(event: Event) -> str | None:
    """`<host>|<source ip or name>` of successful root logins only."""
    address = _ssh.source_address(event)
    if address is None or not _is_root_login(event):
        return None
    return f"{_ssh.host_name(event) or _ssh.NO_HOST}|{address}"


def exempt(event: Event, params: Params) -> bool:
    """True when the client address lies in one of the exempt networks."""
    ip = event.source.ip if event.source else None
    if ip is None or not params.exempt_sources:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in net for net in params.exempt_sources)


def step(state, event: Event, params: Params):
    """One finding per successful root login from a source that is not exempt."""
    if not _is_root_login(event) or exempt(event, params):
        return None, []
    method = event.secmon.auth.method if event.secmon.auth else None
    finding = Finding(
        message=f"root logged in to {_ssh.host_name(event) or 'an unnamed host'} over SSH from "
        f"{_ssh.source_address(event)}" + (f" (method {method})" if method else ""),
        entity=_ssh.entity(event, with_user=True),
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
