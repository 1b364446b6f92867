"""A lifecycle rule that deletes CloudTrail's log files early, put on the bucket a trail delivers to.

Attackers who cannot stop a trail unnoticed let S3 delete its evidence instead: a one-day
expiration on the trail's bucket (Stratus Red Team's `cloudtrail-lifecycle-rule`). Only buckets
known to hold trail logs are judged, so the short rules of ordinary buckets stay quiet. A bucket
is known from, earlier in event time: a CreateTrail/UpdateTrail that delivers to it, a bucket
policy that lets cloudtrail.amazonaws.com write to it, or its name matching `trail_buckets`
(buckets of trails made before secmon watched; the console names them aws-cloudtrail-logs-*).
State is per bucket, whatever the account (bucket names are global, and an organization's trails
deliver to a bucket in its log-archive account); cloud_logging_tampering keys trails by trail, so
one event could not teach both. A lifecycle request that could not be read, on a known bucket, is a
change to review.
"""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.rules._signin import source_of
from schemas.alert import Resource
from schemas.event import BucketLifecycle, Cloud, Event, User

TRAIL_CALLS = frozenset({"CreateTrail", "UpdateTrail"})
LIFECYCLE_CALLS = frozenset({"PutBucketLifecycle", "PutBucketLifecycleConfiguration"})
MAX_TRAILS = 8  # trail names kept per bucket, for the message

META = DetectorMeta(
    id="cloud_trail_log_expiry",
    title="CloudTrail log bucket set to delete logs early",
    description="A PutBucketLifecycle rule that deletes objects (or their old versions) sooner than "
    "`min_retention_days` on an S3 bucket a CloudTrail trail delivers to: the audit trail "
    "erases itself.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("aws.cloudtrail",),
    state=StateSpec(kind="last_seen", key=("secmon.logging_config.bucket",)),
    tags=("policy.audit_logging", "attack.defense_evasion", "attack.t1562.008", "attack.impact", "attack.t1485"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """How long trail logs must be kept, and which buckets hold them before secmon learns it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_retention_days: int = Field(
        365, ge=1, description="Expirations shorter than this alert (PCI DSS keeps audit logs a year)."
    )
    trail_buckets: list[str] = Field(
        ["*cloudtrail*"],
        description="Bucket names or glob patterns known to hold trail logs (matched case-insensitively).",
    )


def key(event: Event) -> str | None:
    """The bucket of successful trail settings, bucket policy and lifecycle calls."""
    config = event.secmon.logging_config
    bucket = (config.s3_bucket if event.event.action in TRAIL_CALLS else config.bucket) if config else None
    return bucket if event.event.outcome == "success" and bucket else None


def step(state: State | None, event: Event, params: Params):
    """Learn which trails deliver to the bucket; judge its lifecycle rules once it is known."""
    config, action = event.secmon.logging_config, event.event.action
    if action in TRAIL_CALLS:
        return _learn(state, config.trail or "a trail"), []
    if action == "PutBucketPolicy":
        return (_learn(state, None) if config.cloudtrail_delivery else state), []
    if action not in LIFECYCLE_CALLS or not (state or _named(config.bucket, params)):
        return state, []
    if config.lifecycle is None:
        return state, [_finding(event, state, "the new rules could not be read: review them")]
    days = retention_days(config.lifecycle, event)
    if days is None or days >= params.min_retention_days:
        return state, []
    return state, [
        _finding(
            event,
            state,
            f"its rules delete objects after {_days(days)}{_rule(config.lifecycle)}, "
            f"sooner than the {params.min_retention_days} days trail logs are kept",
        )
    ]


def retention_days(lifecycle: BucketLifecycle, event: Event) -> int | None:
    """Days the rules keep an object at most: the shortest expiration, a date counted from the call."""
    until_date = (
        max(0, (lifecycle.expiration_date - event.timestamp).days) if lifecycle.expiration_date is not None else None
    )
    known = [d for d in (lifecycle.expiration_days, until_date) if d is not None]
    return min(known) if known else None


def _learn(state: State | None, trail: str | None) -> State:
    trails = list((state or {}).get("trails", []))
    if trail and trail not in trails:
        trails = (trails + [trail])[-MAX_TRAILS:]
    return {"trails": trails}


def _named(bucket: str | None, params: Params) -> bool:
    name = (bucket or "").lower()
    return any(fnmatchcase(name, pattern.lower()) for pattern in params.trail_buckets)


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _rule(lifecycle: BucketLifecycle) -> str:
    return f" (rule {lifecycle.rule_id})" if lifecycle.rule_id else ""


def _finding(event: Event, state: State | None, what: str) -> Finding:
    bucket = event.secmon.logging_config.bucket
    trails = ", ".join((state or {}).get("trails", []))
    holds = f"where CloudTrail trail {trails} delivers" if trails else "which holds CloudTrail logs"
    account = event.cloud.account.id if event.cloud and event.cloud.account else "unknown"
    ip = event.source.ip if event.source and event.source.ip else None
    who = (event.user.name or event.user.id or "unknown") if event.user else "unknown"
    cloud = Cloud(provider=event.cloud.provider, account=event.cloud.account) if event.cloud else None
    return Finding(
        message=f"{who} changed the lifecycle of S3 bucket {bucket} ({holds}) in account {account} "
        f"({event.event.action}{' from ' + ip if ip else ''}): {what}",
        entity=Entity(
            user=User(name=who), source=source_of(event), cloud=cloud, resource=Resource(type="s3_bucket", id=bucket)
        ),
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
    )


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
