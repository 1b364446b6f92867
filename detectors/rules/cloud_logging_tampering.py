"""Cloud audit logging or threat detection switched off or reduced (CloudTrail, flow logs, GuardDuty, Config).

Stopping or deleting a trail, an event data store, flow logs, Route 53 Resolver query logging, a
GuardDuty detector or the Config recorder is reported as is (a short lifecycle rule on a trail's
bucket is cloud_trail_log_expiry's: it is keyed by bucket, this detector's trail state by trail). Configuration calls are judged by what they set
(`secmon.logging_config`, read from the request by the normalizer):
- PutEventSelectors alerts when the trail logs less than before: fewer management events (read,
  write, or a source newly excluded) or data events of fewer resource types. The last selectors
  of each trail are kept; for a trail not seen before, the comparison is with CloudTrail's
  default, every management event read and write.
- UpdateTrail alerts when it narrows the trail to its home region, drops global service events,
  log file validation or the organization, delivers to another S3 bucket or log group than the
  one known, or removes CloudWatch Logs delivery or KMS encryption. CreateTrail and earlier
  updates teach the trail's settings, so re-applying a setting already known is quiet.
- UpdateDetector alerts when it disables the detector or turns off some of its protections.
A configuration call whose request could not be read is reported as a change to review. Failed
calls (AccessDenied while probing) are skipped unless `include_failed`, and then say they failed.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.rules._signin import source_of
from schemas.alert import Resource
from schemas.event import Cloud, Event, LoggingConfig, TrailSelectors, User

CLOUDTRAIL = "cloudtrail.amazonaws.com"
GUARDDUTY = "guardduty.amazonaws.com"
RESOLVER = "route53resolver.amazonaws.com"  # DNS query logs of VPCs
# (event source, API call) -> what it does to the logging, for the message
CALLS: dict[tuple[str, str], str] = {
    (CLOUDTRAIL, "StopLogging"): "stopped a CloudTrail trail",
    (CLOUDTRAIL, "DeleteTrail"): "deleted a CloudTrail trail",
    (CLOUDTRAIL, "UpdateTrail"): "changed {trail}",
    (CLOUDTRAIL, "PutEventSelectors"): "changed the event selectors of {trail}",
    (CLOUDTRAIL, "DeleteEventDataStore"): "deleted a CloudTrail Lake event data store",
    (CLOUDTRAIL, "StopEventDataStoreIngestion"): "stopped a CloudTrail Lake event data store",
    ("ec2.amazonaws.com", "DeleteFlowLogs"): "deleted VPC flow logs",
    (GUARDDUTY, "DeleteDetector"): "deleted a GuardDuty detector",
    (GUARDDUTY, "UpdateDetector"): "changed {detector}",
    (GUARDDUTY, "DisassociateFromMasterAccount"): "left the GuardDuty administrator account",
    (GUARDDUTY, "DisassociateFromAdministratorAccount"): "left the GuardDuty administrator account",
    (GUARDDUTY, "StopMonitoringMembers"): "stopped GuardDuty monitoring of member accounts",
    ("config.amazonaws.com", "StopConfigurationRecorder"): "stopped the AWS Config recorder",
    ("config.amazonaws.com", "DeleteConfigurationRecorder"): "deleted the AWS Config recorder",
    ("config.amazonaws.com", "DeleteDeliveryChannel"): "deleted the AWS Config delivery channel",
    (RESOLVER, "DeleteResolverQueryLogConfig"): "deleted a Route 53 Resolver query logging configuration",
    (RESOLVER, "DisassociateResolverQueryLogConfig"): "stopped Route 53 Resolver query logging for a VPC",
}
TRAIL_CALLS = frozenset({"CreateTrail", "UpdateTrail", "PutEventSelectors", "DeleteTrail"})  # keyed per trail
UNREAD = "request not readable, review whether logging was reduced"
DEFAULT_COVERAGE = {"read": True, "write": True, "excluded": [], "data": []}  # a trail without selectors
MAX_REMEMBERED = 32  # excluded sources and data resource types kept per trail

META = DetectorMeta(
    id="cloud_logging_tampering",
    title="Cloud audit logging or threat detection disabled",
    description="A successful CloudTrail call that stops, deletes or reduces audit logging or threat detection: "
    "StopLogging, DeleteTrail, CloudTrail Lake stores, DeleteFlowLogs, Route 53 Resolver query logging "
    "removal, GuardDuty detector removal or "
    "disassociation, AWS Config recorder/channel removal; PutEventSelectors that log less than the "
    "trail's previous selectors (or than all management events), UpdateTrail that narrows, redirects "
    "or unprotects the trail, UpdateDetector that disables GuardDuty or some of its protections.",
    version=4,
    severity="high",
    maturity="stable",
    datasets=("aws.cloudtrail",),
    # trail settings calls key on account + trail (their state: the trail's known settings),
    # every other call on account + user.name, without state
    state=StateSpec(kind="last_seen", key=("cloud.account.id", "cloud.region", "secmon.logging_config.trail")),
    tags=("policy.audit_logging", "attack.defense_evasion", "attack.t1562.008", "attack.t1562.001"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """Which calls count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include_failed: bool = Field(False, description="Also report failed attempts (e.g. AccessDenied while probing).")
    ignore_calls: list[str] = Field(
        default_factory=list,
        description="API calls not to report, e.g. [UpdateTrail] "
        "when trail settings are changed often by infrastructure as code.",
    )


def coverage(selectors: TrailSelectors) -> State:
    """The part of a selector summary kept per trail."""
    return {
        "read": selectors.management_read,
        "write": selectors.management_write,
        "excluded": selectors.excluded_sources[:MAX_REMEMBERED],
        "data": selectors.data_resource_types[:MAX_REMEMBERED],
    }


def lost(before: State, after: State) -> list[str]:
    """What `before` logged that `after` does not."""
    gone = [f"{kind} management events" for kind in ("read", "write") if before[kind] and not after[kind]]
    if (before["read"] or before["write"]) and (after["read"] or after["write"]):
        gone += [f"management events from {s}" for s in after["excluded"] if s not in before["excluded"]]
    return gone + [f"data events of {t}" for t in before["data"] if t not in after["data"]]


def judge_selectors(state: State, config: LoggingConfig) -> tuple[State, str | None]:
    """PutEventSelectors: the trail's new coverage, and what it no longer logs."""
    before, after = state.get("selectors"), coverage(config.selectors)  # type: ignore[arg-type]  # set on every PutEventSelectors
    gone = lost(before or DEFAULT_COVERAGE, after)
    basis = "" if before else " (previous selectors unknown: compared with the default, all management events)"
    return {**state, "selectors": after}, f"no longer logs {', '.join(gone)}{basis}" if gone else None


def judge_trail(state: State, config: LoggingConfig) -> tuple[State, str | None]:
    """UpdateTrail: the trail's known settings, and the reducing changes among those it sets."""
    off = [
        text
        for key, value, text in (
            ("multi_region", config.multi_region, "logs its home region only (isMultiRegionTrail false)"),
            ("global_events", config.global_service_events, "no longer logs global service events such as IAM and STS"),
            ("validation", config.log_file_validation, "turned off log file integrity validation"),
            ("organization", config.organization_trail, "no longer logs the organization's member accounts"),
        )
        if value is False and state.get(key) is not False
    ]
    for key, new, place in (
        ("bucket", config.s3_bucket, "S3 bucket"),
        ("log_group", config.cloudwatch_log_group, "CloudWatch Logs group"),
    ):
        if new and new != state.get(key):
            off.append(
                f"delivers to {place} {new} "
                + (f"instead of {state[key]}" if state.get(key) else "(previous destination unknown)")
            )
    if "cloudwatch_log_group" in config.cleared and state.get("log_group") != "":
        off.append("stopped delivering to CloudWatch Logs")
    if "kms_key" in config.cleared and state.get("kms") != "":
        off.append("no longer encrypts its log files with KMS")
    return learn(state, config), "; ".join(off) or None


def learn(state: State, config: LoggingConfig, created: bool = False) -> State:
    """The trail's settings after the call; CreateTrail also fills in CloudTrail's defaults."""
    known = {**state}
    defaults = {"multi_region": False, "global_events": True, "validation": False, "organization": False}
    for key, value in (
        ("multi_region", config.multi_region),
        ("global_events", config.global_service_events),
        ("validation", config.log_file_validation),
        ("organization", config.organization_trail),
    ):
        if value is not None or created:
            known[key] = defaults[key] if value is None else value
    for key, name, cleared in (
        ("bucket", config.s3_bucket, None),
        ("log_group", config.cloudwatch_log_group, "cloudwatch_log_group"),
        ("kms", config.kms_key, "kms_key"),
    ):
        if name or cleared in config.cleared or (created and cleared):
            known[key] = name or ""  # "": known to be unset
    if created:
        known["selectors"] = {**DEFAULT_COVERAGE}
    return known


def judge_detector(state: State, config: LoggingConfig) -> tuple[State, str | None]:
    """UpdateDetector: disabling the detector or some of its protections."""
    off = ["disabled the detector (enable false)"] if config.detector_enabled is False else []
    if config.disabled_features:
        off.append(f"turned off {', '.join(config.disabled_features)}")
    return state, "; ".join(off) or None


JUDGES = {
    (CLOUDTRAIL, "PutEventSelectors"): judge_selectors,
    (CLOUDTRAIL, "UpdateTrail"): judge_trail,
    (GUARDDUTY, "UpdateDetector"): judge_detector,
}


def step(state, event: Event, params: Params):
    """A finding per tampering call; configuration calls only when they reduce logging."""
    call = (event.event.provider or "", event.event.action or "")
    if event.event.outcome == "failure":
        report = params.include_failed and call in CALLS and call[1] not in params.ignore_calls
        return state, [finding(event, CALLS[call], None, failed=True)] if report else []
    known, details = judge(state or {}, call, event.secmon.logging_config)
    # only a trail keeps state, and a deleted trail none: a trail created again under its name starts afresh
    kept = (known or None) if _trail(event) and call[1] != "DeleteTrail" else None
    if details is None or call[1] in params.ignore_calls:  # ignored calls are still learned
        return kept, []
    return kept, [finding(event, CALLS[call], details)]


def judge(known: State, call: tuple[str, str], config: LoggingConfig | None) -> tuple[State, str | None]:
    """The trail's settings after a successful call, and what to report: None nothing, "" the call itself."""
    if call == (CLOUDTRAIL, "CreateTrail"):
        return (learn(known, config, created=True) if config else known), None
    if call not in JUDGES:
        return known, ""
    if config is None or (call[1] == "PutEventSelectors" and config.selectors is None):
        if call[1] == "PutEventSelectors":
            known = {k: v for k, v in known.items() if k != "selectors"}  # what the trail logs is unknown now
        return known, UNREAD
    return JUDGES[call](known, config)


def finding(event: Event, what: str, details: str | None, failed: bool = False) -> Finding:
    """The finding of one call: who, what, where, then what changed."""
    account = event.cloud.account.id if event.cloud and event.cloud.account else "unknown"
    region = f", {event.cloud.region}" if event.cloud and event.cloud.region else ""
    ip = event.source.ip if event.source and event.source.ip else (event.source.address if event.source else None)
    trail = _trail(event)
    detector = event.secmon.logging_config.detector_id if event.secmon.logging_config else None
    what = what.format(
        trail=f"CloudTrail trail {trail}" if trail else "a CloudTrail trail",
        detector=f"GuardDuty detector {detector}" if detector else "a GuardDuty detector",
    )
    message = f"{_who(event)} {what} in account {account}{region} ({event.event.action}{' from ' + ip if ip else ''})"
    if details:
        message += f": {details}"
    if failed:
        message = f"attempt failed ({event.error.code if event.error and event.error.code else 'error'}): {message}"
    cloud = Cloud(provider=event.cloud.provider, account=event.cloud.account) if event.cloud else None
    entity = Entity(
        user=User(name=_who(event)),
        source=source_of(event),
        cloud=cloud,
        resource=Resource(type="cloudtrail_trail", id=trail) if trail else None,
    )
    return Finding(
        message=message,
        entity=entity,
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
    )


def _who(event: Event) -> str:
    user = event.user
    return (user.name or user.id or "unknown") if user else "unknown"


def _trail(event: Event) -> str | None:
    """The trail a trail settings call configures (None for other calls)."""
    config = event.secmon.logging_config
    if event.event.provider != CLOUDTRAIL or event.event.action not in TRAIL_CALLS or config is None:
        return None
    return config.trail


def key(event: Event) -> str | None:
    """`<account>|<region>|trail/<name>` of a trail call (trail names repeat across regions),
    `<account>|<user>` of the other tampering calls."""
    call = (event.event.provider or "", event.event.action or "")
    trail = _trail(event)
    if call not in CALLS and not (trail and event.event.outcome == "success"):
        return None
    account = event.cloud.account.id if event.cloud and event.cloud.account and event.cloud.account.id else "-"
    region = event.cloud.region if event.cloud and event.cloud.region else "-"
    return f"{account}|{region}|trail/{trail}" if trail else f"{account}|{_who(event)}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
