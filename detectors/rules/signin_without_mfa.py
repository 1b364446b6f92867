"""A successful application sign-in without a second factor where policy requires MFA."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._mfa import finding, user_key, without_mfa
from schemas.event import Event

META = DetectorMeta(
    id="signin_without_mfa",
    title="Application sign-in without MFA",
    description="A successful app sign-in with secmon.auth.mfa false, for a workspace whose policy "
                "requires MFA (all workspaces by default).",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="none", key=("user.name",)),
    tags=("policy.mfa_required", "attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(days=1),
)


class Params(BaseModel):
    """Which workspaces (organization.id) require MFA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_for_all: bool = Field(True, description="Every workspace requires MFA.")
    required_workspaces: list[str] = Field(default_factory=list, description="organization.id values that "
                                           "require MFA when required_for_all is false.")


def applies(event: Event, params: Params) -> bool:
    """True when the sign-in lacked MFA and its workspace requires it."""
    if not without_mfa(event):
        return False
    workspace = event.organization.id if event.organization else None
    return params.required_for_all or workspace in params.required_workspaces


def step(state, event, params: Params):
    """One finding per sign-in without MFA where it is required."""
    if not applies(event, params):
        return None, []
    workspace = event.organization.id if event.organization else None
    return None, [finding(event, f"workspace {workspace}" if workspace else "the app")]


def key(event: Event) -> str | None:
    """Route only successful sign-ins without MFA: every other sign-in can never alert."""
    return user_key(event) if without_mfa(event) else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
