"""Cloud audit logging or threat detection switched off or weakened (CloudTrail, flow logs, GuardDuty, Config).

The cloudtrail normalizer keeps no request parameters, so a call cannot be judged by what it
changed: UpdateTrail, PutEventSelectors and GuardDuty UpdateDetector are reported as changes to
review (they may redirect a trail, reduce its selectors or disable a detector), the others are
disabling by definition. Failed calls (AccessDenied while probing) are skipped unless
`include_failed`, and then say they failed.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from detectors.rules._signin import source_of
from schemas.event import Cloud, Event, User

# (event source, API call) -> what it does to the logging, for the message
CALLS: dict[tuple[str, str], str] = {
    ("cloudtrail.amazonaws.com", "StopLogging"): "stopped a CloudTrail trail",
    ("cloudtrail.amazonaws.com", "DeleteTrail"): "deleted a CloudTrail trail",
    ("cloudtrail.amazonaws.com", "UpdateTrail"): "changed a CloudTrail trail (destination, regions or validation: "
                                                 "review whether logging was reduced)",
    ("cloudtrail.amazonaws.com", "PutEventSelectors"): "changed the event selectors of a CloudTrail trail (review "
                                                       "whether events are no longer logged)",
    ("cloudtrail.amazonaws.com", "DeleteEventDataStore"): "deleted a CloudTrail Lake event data store",
    ("cloudtrail.amazonaws.com", "StopEventDataStoreIngestion"): "stopped a CloudTrail Lake event data store",
    ("ec2.amazonaws.com", "DeleteFlowLogs"): "deleted VPC flow logs",
    ("guardduty.amazonaws.com", "DeleteDetector"): "deleted a GuardDuty detector",
    ("guardduty.amazonaws.com", "UpdateDetector"): "changed a GuardDuty detector (review whether it was disabled)",
    ("guardduty.amazonaws.com", "DisassociateFromMasterAccount"): "left the GuardDuty administrator account",
    ("guardduty.amazonaws.com", "DisassociateFromAdministratorAccount"): "left the GuardDuty administrator account",
    ("guardduty.amazonaws.com", "StopMonitoringMembers"): "stopped GuardDuty monitoring of member accounts",
    ("config.amazonaws.com", "StopConfigurationRecorder"): "stopped the AWS Config recorder",
    ("config.amazonaws.com", "DeleteConfigurationRecorder"): "deleted the AWS Config recorder",
    ("config.amazonaws.com", "DeleteDeliveryChannel"): "deleted the AWS Config delivery channel",
}

META = DetectorMeta(
    id="cloud_logging_tampering",
    title="Cloud audit logging or threat detection disabled",
    description="A successful CloudTrail call that stops, deletes or weakens audit logging or threat detection: "
                "StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors, CloudTrail Lake stores, DeleteFlowLogs, "
                "GuardDuty detector removal or disassociation, AWS Config recorder/channel removal.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("aws.cloudtrail",),
    state=StateSpec(kind="none", key=("cloud.account.id", "user.name")),
    tags=("policy.audit_logging", "attack.defense_evasion", "attack.t1562.008", "attack.t1562.001"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """Which calls count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include_failed: bool = Field(False, description="Also report failed attempts (e.g. AccessDenied while probing).")
    ignore_calls: list[str] = Field(default_factory=list, description="API calls not to report, e.g. [UpdateTrail] "
                                    "when trail settings are changed often by infrastructure as code.")


def _who(event: Event) -> str:
    user = event.user
    return (user.name or user.id or "unknown") if user else "unknown"


def step(state, event: Event, params: Params):
    """One finding per tampering call (failed ones only with include_failed)."""
    what = CALLS.get((event.event.provider or "", event.event.action or ""))
    failed = event.event.outcome == "failure"
    if what is None or event.event.action in params.ignore_calls or (failed and not params.include_failed):
        return None, []
    account = event.cloud.account.id if event.cloud and event.cloud.account else "unknown"
    region = f", {event.cloud.region}" if event.cloud and event.cloud.region else ""
    ip = event.source.ip if event.source and event.source.ip else (event.source.address if event.source else None)
    message = f"{_who(event)} {what} in account {account}{region} ({event.event.action}{' from ' + ip if ip else ''})"
    if failed:
        message = f"attempt failed ({event.error.code if event.error and event.error.code else 'error'}): {message}"
    cloud = Cloud(provider=event.cloud.provider, account=event.cloud.account) if event.cloud else None
    entity = Entity(user=User(name=_who(event)), source=source_of(event), cloud=cloud)
    return None, [Finding(message=message, entity=entity, timestamp=event.timestamp, event_ids=(event.event.id,),
                          datasets=(event.event.dataset,))]


def key(event: Event) -> str | None:
    """`<account>|<user>` of a tampering call."""
    if (event.event.provider or "", event.event.action or "") not in CALLS:
        return None
    account = event.cloud.account.id if event.cloud and event.cloud.account and event.cloud.account.id else "-"
    return f"{account}|{_who(event)}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
