"""The AWS account root user signed in or made a call: CIS AWS Foundations "avoid the root user".

Root can do everything, cannot be limited by IAM policy and is shared by whoever holds its
password, so daily work never uses it. CloudTrail names it by `userIdentity.type` Root, which the
normalizer writes as user.name `root` with the account id as user.id (an IAM user that happens to
be called root has an AIDA... id and is not this). Every root event is reported, failed ones too:
a failed console login is someone trying root's password, a denied call (an organization's SCP)
is still someone holding root's credentials. One alert per account and dedup period, counting
every root event in it; `ignore_calls` leaves out calls a documented break-glass routine makes.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from detectors.rules._signin import source_of
from schemas.event import Cloud, Event, User

ROOT = "root"

META = DetectorMeta(
    id="root_account_usage",
    title="AWS root user activity",
    description="A CloudTrail event of the account root user (userIdentity.type Root): a console login "
    "or an API call, successful or failed.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("aws.cloudtrail",),
    state=StateSpec(kind="none", key=("cloud.account.id",)),
    tags=(
        "policy.root_account",
        "attack.initial_access",
        "attack.persistence",
        "attack.privilege_escalation",
        "attack.t1078.004",
    ),
    dedup_period=timedelta(days=1),
)


class Params(BaseModel):
    """Calls of the root user not to report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ignore_calls: list[str] = Field(
        default_factory=list,
        description="CloudTrail event names never reported for root, e.g. a break-glass check's GetAccountSummary.",
    )


def account_of(event: Event) -> str | None:
    """The account the event happened in."""
    return event.cloud.account.id if event.cloud and event.cloud.account and event.cloud.account.id else None


def is_root(event: Event) -> bool:
    """The account's root user: named root, with the account id (or no id) as its principal id."""
    user = event.user
    return user is not None and user.name == ROOT and user.id in (None, account_of(event))


def counts(event: Event, params: Params) -> bool:
    """A root event to report (any outcome), unless its call is ignored."""
    return is_root(event) and event.event.action not in params.ignore_calls


def key(event: Event) -> str | None:
    """The account id of the root events reported."""
    return (account_of(event) or "-") if is_root(event) and event.event.action else None


def step(state, event: Event, params: Params):
    """One finding per root event (the alert counts them per account and day)."""
    if not counts(event, params):
        return None, []
    account, ip = account_of(event) or "unknown", event.source.ip if event.source else None
    origin = f" from {ip}" if ip else ""  # AWS services acting for root leave no address
    failed = event.event.outcome == "failure"
    if event.event.action != "ConsoleLogin":
        call = f"{event.event.action} ({event.event.provider or 'unknown service'}) in account {account}"
        error = event.error.code if event.error and event.error.code else "failed"
        what = f"root tried {call}{origin}: {error}" if failed else f"root called {call}{origin}"
    elif not failed:
        mfa = event.secmon.auth.mfa if event.secmon.auth else None
        what = f"root signed in to the AWS console of account {account}{origin}" + (
            "" if mfa is None else " with MFA" if mfa else " without MFA"
        )
    else:
        what = f"a root console sign-in to account {account}{origin} failed"
    cloud = Cloud(provider=event.cloud.provider, account=event.cloud.account) if event.cloud else None
    finding = Finding(
        message=what,
        entity=Entity(user=User(name=ROOT), source=source_of(event), cloud=cloud),
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
