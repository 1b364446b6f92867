"""Audit trail: an admin signed an account out of all its devices (remote "sign out everywhere")."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from schemas.event import Event, User, UserTarget

META = DetectorMeta(
    id="account_signout_all_devices",
    title="Account signed out of all devices by an admin",
    description="An admin executed the remote sign-out-all-devices action on an account: usually a "
    "response to a lost device or a compromise, recorded so every use is accounted for.",
    version=1,
    severity="low",
    maturity="stable",
    datasets=("control.events",),
    state=StateSpec(kind="none", key=("user.target.name", "organization.id")),
    tags=("policy.audit_trail", "attack.t1531"),
    dedup_period=timedelta(minutes=5),
)


class Params(BaseModel):
    """No parameters: every executed sign-out is recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def account(event: Event) -> str | None:
    """The signed-out account of an executed signout_all control event, else None."""
    control = event.secmon.control
    if control is None or control.kind != "signout_all" or control.status != "executed":
        return None
    target = event.user.target if event.user else None
    return target.name if target and target.name else None


def step(state, event, params: Params):
    """One finding per executed sign-out-all, naming the account and the admin."""
    target = account(event)
    if target is None:
        return None, []
    admin = (event.user.name if event.user else None) or "unknown admin"
    workspace = event.organization.id if event.organization else None
    reason = event.secmon.control.reason
    message = (
        f"{admin} signed {target} out of all devices"
        + (f" in workspace {workspace}" if workspace else "")
        + (f" (reason: {reason[:200]})" if reason else "")
    )
    entity = Entity(user=User(name=event.user.name, target=UserTarget(name=target)), organization=event.organization)
    return None, [
        Finding(
            message=message,
            entity=entity,
            timestamp=event.timestamp,
            event_ids=(event.event.id,),
            datasets=(event.event.dataset,),
        )
    ]


def key(event: Event) -> str | None:
    """`<account>|<workspace>`, for executed sign-outs only."""
    target = account(event)
    if target is None:
        return None
    workspace = event.organization.id if event.organization else None
    return f"{target}|{workspace or '-'}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
