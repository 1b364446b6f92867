"""Many failed SSH authentications from one client against one server: password guessing.

Counted: `Failed <method>` lines (ssh_login failures), `Invalid user` lines, `maximum
authentication attempts exceeded` lines and disconnects that say authentication failed, per
connection so that the lines sshd writes for one attempt count once (see detectors/rules/_ssh.py).
Failed key (and `none`) probes of an existing account count only on a connection sshd cut off
for failing: a client whose agent offers three keys before the right one is not guessing. PAM
failures (ssh_pam_auth_failure) are NOT counted: sshd logs a `Failed password` line for the same
attempt, so counting both would double every password guess. "message repeated N times" lines
arrive as N events and count N.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Finding, StateSpec
from detectors.rules import _ssh
from schemas.event import Event

META = DetectorMeta(
    id="ssh_bruteforce",
    title="SSH brute force against one server",
    description="N failed SSH authentications (failed methods, invalid users, max-attempts "
    "disconnects) from one client address against one host within the window.",
    version=2,
    severity="medium",  # internet-facing sshd sees this daily; a success after it is what matters
    maturity="stable",
    datasets=(_ssh.DATASET,),
    state=StateSpec(kind="sliding_window", key=("source.ip", "host.name"), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """How many failed attempts within which window make a brute force."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(10, ge=2, description="Failed attempts from one client against one host that alert.")
    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")


def key(event: Event) -> str | None:
    """`<source ip or name>|<host>` for failed attempts only: nothing else can alert here."""
    address = _ssh.source_address(event)
    if address is None or not _ssh.is_failed_attempt(event):
        return None
    return f"{address}|{_ssh.host_name(event) or _ssh.NO_HOST}"


def step(state, event: Event, params: Params):
    """Add the attempt to the window; `threshold` attempts are one finding, then start over."""
    if not _ssh.is_failed_attempt(event):
        return state, []
    state = windows.add(state, event.timestamp.timestamp(), _ssh.attempt_item(event), params.window_seconds)
    items = windows.items(state)
    count = _ssh.attempts(items)
    if count < params.threshold:
        return state, []
    host = _ssh.host_name(event) or "an unnamed host"
    finding = Finding(
        message=f"{count} failed SSH authentications from {_ssh.source_address(event)} against {host} "
        f"within {params.window_seconds}s (users: {_ssh.sample(_ssh.attempt_users(items))})",
        entity=_ssh.entity(event),
        timestamp=event.timestamp,
        event_ids=_ssh.event_ids(items),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=lambda params: params.window_seconds)
