"""A successful application sign-in without a second factor where policy requires MFA.

An SSO sign-in reaches the app with `mfa: false` because the identity provider did the second
factor, not the app: it counts as MFA unless the workspace requires MFA in the app itself
(workspaces context table, `app_mfa_required`), or the account is one of our staff or a team
admin (users table), whose sign-ins are checked strictly. A user the users table exempts
(`mfa_required: false`) is not checked. Our staff's findings are medium (our own policy, broken);
a customer's, admins included, are low-severity evidence that feeds anomaly_signin, not a page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._mfa import finding, user_key, without_mfa
from schemas.event import Event

META = DetectorMeta(
    id="signin_without_mfa",
    title="Application sign-in without MFA",
    description="A successful app sign-in with secmon.auth.mfa false, for a workspace whose policy "
    "requires MFA (all workspaces by default); SSO counts as MFA done by the identity provider "
    "unless the workspace requires app-side MFA or the account is staff or a team admin.",
    version=2,
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
    required_workspaces: list[str] = Field(
        default_factory=list, description="organization.id values that require MFA when required_for_all is false."
    )
    sso_counts_as_mfa: bool = Field(
        True,
        description="An SSO sign-in is MFA done by the identity provider "
        "(except where the workspace requires app-side MFA, and for staff and admins).",
    )


def strict(event: Event) -> bool:
    """Staff and team admins: every sign-in needs MFA the app can see (SSO does not count)."""
    known = event.secmon.context
    return bool(known and (known.user_employee or known.user_team_admin))


def applies(event: Event, params: Params) -> bool:
    """True when the sign-in lacked MFA and its workspace requires it."""
    if not without_mfa(event):
        return False
    workspace = event.organization.id if event.organization else None
    if not (params.required_for_all or workspace in params.required_workspaces):
        return False
    known = event.secmon.context
    if known and known.user_mfa_required is False and not strict(event):
        return False  # the users table says policy exempts this user
    by_idp = event.secmon.auth.method == "sso" and params.sso_counts_as_mfa
    return not by_idp or strict(event) or bool(known and known.workspace_app_mfa_required)


def step(state, event, params: Params):
    """One finding per sign-in without MFA where it is required (medium for our staff, else low)."""
    if not applies(event, params):
        return None, []
    workspace = event.organization.id if event.organization else None
    found = finding(event, f"workspace {workspace}" if workspace else "the app")
    staff = bool(event.secmon.context and event.secmon.context.user_employee)
    return None, [replace(found, severity="medium" if staff else "low")]


def key(event: Event) -> str | None:
    """Route only successful sign-ins without MFA: every other sign-in can never alert."""
    return user_key(event) if without_mfa(event) else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
