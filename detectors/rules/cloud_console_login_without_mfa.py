"""An AWS console login without MFA (CloudTrail ConsoleLogin with MFAUsed "No")."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._mfa import finding, user_key, without_mfa
from schemas.event import Event

META = DetectorMeta(
    id="cloud_console_login_without_mfa",
    title="AWS console login without MFA",
    description="A successful CloudTrail ConsoleLogin whose additionalEventData.MFAUsed is No. "
    "Federated (SSO/SAML) logins are skipped by default: the identity provider does MFA "
    "and CloudTrail reports MFAUsed No for all of them.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("aws.cloudtrail",),
    state=StateSpec(kind="none", key=("cloud.account.id", "user.name")),
    tags=("policy.mfa_required", "attack.initial_access", "attack.t1078.004"),
    dedup_period=timedelta(days=1),
)


class Params(BaseModel):
    """Whether federated console logins count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include_federated: bool = Field(
        False,
        description="Also alert on federated (secmon.auth.method sso) "
        "logins, for accounts whose IdP does not enforce MFA.",
    )


def is_console_login(event: Event) -> bool:
    """True for a successful ConsoleLogin that states MFA was not used."""
    return event.event.action == "ConsoleLogin" and without_mfa(event)


def step(state, event, params: Params):
    """One finding per console login without MFA (federated ones only when asked)."""
    if not is_console_login(event):
        return None, []
    if event.secmon.auth.method == "sso" and not params.include_federated:
        return None, []
    account = event.cloud.account.id if event.cloud and event.cloud.account else None
    return None, [finding(event, f"the AWS console of account {account or 'unknown'}")]


def key(event: Event) -> str | None:
    """`<account>|<user>`: AWS user names (root above all) repeat across accounts."""
    user = user_key(event) if is_console_login(event) else None
    if user is None:
        return None
    account = event.cloud.account.id if event.cloud and event.cloud.account else None
    return f"{account or '-'}|{user}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
