"""What a CloudTrail, GuardDuty or S3 configuration call sets, as `secmon.logging_config`.

Detectors need to tell a call that reduces logging from one that keeps or widens it, so the
request is summarised: a trail's settings (CreateTrail/UpdateTrail), what its event selectors log
(PutEventSelectors, classic or advanced), a GuardDuty detector's state (UpdateDetector), and for
the S3 bucket logs may live in how soon its lifecycle rules delete objects (PutBucketLifecycle) and
whether its policy lets CloudTrail deliver to it (PutBucketPolicy). CloudTrail
writes request keys in camelCase (`eventSelectors`, `fieldSelectors`, `equals`); the API's
PascalCase is read too. Every value comes from the untrusted request body, so each one is
type-checked, lists are cut to a bound, and anything unexpected is left out.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from schemas.event import BucketLifecycle, LoggingConfig, TrailSelectors
from schemas.secmon_fields import MAX_LISTED  # excluded sources, data resource types, disabled features per call

TRAIL_SETTINGS_CALLS = frozenset({"CreateTrail", "UpdateTrail"})
LOGGING_CONFIG_CALLS = {
    "cloudtrail.amazonaws.com": TRAIL_SETTINGS_CALLS | {"PutEventSelectors", "DeleteTrail"},
    "guardduty.amazonaws.com": frozenset({"UpdateDetector"}),
    # CloudTrail writes PutBucketLifecycle for PutBucketLifecycleConfiguration too; both are read
    "s3.amazonaws.com": frozenset({"PutBucketLifecycle", "PutBucketLifecycleConfiguration", "PutBucketPolicy"}),
}
MAX_POLICY = 20 * 1024  # S3 rejects bucket policies larger than 20 KB
MAX_RULES = 1000  # S3's limit of lifecycle rules per bucket
CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
# AWS allows 5 classic selectors and 500 advanced conditions per trail; a successful call stays far below
MAX_ITEMS = 64
MAX_TEXT = 1024  # an ARN (log group, KMS key) or a bucket name; longer is no valid value
MANAGEMENT_FIELDS = frozenset({"eventCategory", "readOnly", "eventSource"})
# GuardDuty's older dataSources switches, by the feature name that replaced them
DATA_SOURCE_FEATURES = {("s3Logs",): "S3_DATA_EVENTS", ("kubernetes", "auditLogs"): "EKS_AUDIT_LOGS"}


def logging_config(event_source: str, event_name: str, params: Any) -> LoggingConfig | None:
    """The summary of a logging-configuration call (None for other calls or a request that is no object)."""
    if event_name not in LOGGING_CONFIG_CALLS.get(event_source, ()) or not isinstance(params, dict):
        return None
    if event_name == "UpdateDetector":
        return LoggingConfig(
            detector_id=_text(_get(params, "detectorId")),
            detector_enabled=_flag(_get(params, "enable")),
            disabled_features=_disabled_features(params),
        )
    if event_name == "PutEventSelectors":
        return LoggingConfig(trail=_trail_name(_get(params, "trailName")), selectors=selectors(params))
    if event_name == "DeleteTrail":  # only which trail: its known settings are forgotten
        return LoggingConfig(trail=_trail_name(_get(params, "name")))
    if event_name == "PutBucketPolicy":
        return LoggingConfig(
            bucket=_bucket(params), cloudtrail_delivery=cloudtrail_delivery(_get(params, "bucketPolicy"))
        )
    if event_source == "s3.amazonaws.com":
        return LoggingConfig(bucket=_bucket(params), lifecycle=lifecycle(params))
    return _trail_settings(params)


def lifecycle(params: dict[str, Any]) -> BucketLifecycle | None:
    """The shortest deletion the enabled rules set; None without a readable configuration.

    CloudTrail turns the XML body into `LifecycleConfiguration.Rule` (one object, or a list when
    there are several); the API's JSON spells it `Rules`. Numbers may arrive as text."""
    config = _get(params, "lifecycleConfiguration")
    if not isinstance(config, dict):
        return None
    rules = _get(config, "rule")
    rules = _get(config, "rules") if rules is None else rules
    items = [rules] if isinstance(rules, dict) else rules[:MAX_RULES] if isinstance(rules, list) else []
    enabled = [r for r in items if isinstance(r, dict) and str(_get(r, "status")).lower() == "enabled"]
    days = [
        (d, _rule_id(r))
        for r in enabled
        for d in (_days(_get(r, "expiration"), "days"), _days(_get(r, "noncurrentVersionExpiration"), "noncurrentDays"))
        if d is not None
    ]
    dates = [(d, _rule_id(r)) for r in enabled if (d := _date(_get(r, "expiration"))) is not None]
    soonest_days = min(days, key=lambda item: item[0], default=(None, None))
    soonest_date = min(dates, key=lambda item: item[0], default=(None, None))
    return BucketLifecycle(
        rules=len(enabled),
        expiration_days=soonest_days[0],
        expiration_date=soonest_date[0],
        rule_id=soonest_days[1] or soonest_date[1],
    )


def _bucket(params: dict[str, Any]) -> str | None:
    return _text(_get(params, "bucketName")) or _text(_get(params, "bucket"))  # CloudTrail's, else the API's


def _rule_id(rule: dict[str, Any]) -> str | None:
    return _text(rule.get("ID", rule.get("Id", rule.get("id"))))


def cloudtrail_delivery(policy: Any) -> bool | None:
    """Whether an Allow statement names cloudtrail.amazonaws.com as a service principal; None unreadable."""
    if isinstance(policy, str) and len(policy) <= MAX_POLICY:
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    if not isinstance(policy, dict):
        return None
    statements = _get(policy, "statement")
    statements = [statements] if isinstance(statements, dict) else _dicts(statements)
    return any(
        str(_get(st, "effect")) == "Allow" and CLOUDTRAIL_PRINCIPAL in _services(_get(st, "principal"))
        for st in statements
    )


def _services(principal: Any) -> list[str]:
    service = _get(principal, "service") if isinstance(principal, dict) else None
    return [service] if isinstance(service, str) else _texts(service)


def _days(action: Any, key: str) -> int | None:
    value = _get(action, key) if isinstance(action, dict) else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**6 else None


def _date(action: Any) -> datetime | None:
    value = _text(_get(action, "date")) if isinstance(action, dict) else None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return (when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when) if when else None


def _trail_settings(params: dict[str, Any]) -> LoggingConfig:
    cleared = [
        name
        for name, key in (("cloudwatch_log_group", "cloudWatchLogsLogGroupArn"), ("kms_key", "kmsKeyId"))
        if _get(params, key) == ""
    ]
    return LoggingConfig(
        trail=_trail_name(_get(params, "name")),
        multi_region=_flag(_get(params, "isMultiRegionTrail")),
        global_service_events=_flag(_get(params, "includeGlobalServiceEvents")),
        log_file_validation=_flag(_get(params, "enableLogFileValidation")),
        organization_trail=_flag(_get(params, "isOrganizationTrail")),
        s3_bucket=_text(_get(params, "s3BucketName")),
        cloudwatch_log_group=_text(_get(params, "cloudWatchLogsLogGroupArn")),
        kms_key=_text(_get(params, "kmsKeyId")),
        cleared=cleared,
    )


def selectors(params: dict[str, Any]) -> TrailSelectors | None:
    """What the trail logs under the request's selectors: an empty list logs nothing; None when there
    is no list or a selector cannot be read (a guess could hide a reduction or invent one)."""
    advanced = _get(params, "advancedEventSelectors")
    if isinstance(advanced, list):
        items = _dicts(advanced)
        conditions = [_field_conditions(_get(item, "fieldSelectors")) for item in items]
        if len(items) < len(advanced[:MAX_ITEMS]) or not all("eventCategory" in c for c in conditions):
            return None
        return _advanced(conditions)
    classic = _get(params, "eventSelectors")
    if isinstance(classic, list):
        items = _dicts(classic)
        return _classic(items) if len(items) == len(classic[:MAX_ITEMS]) else None
    return None


def _classic(items: list[dict[str, Any]]) -> TrailSelectors:
    """eventSelectors: readWriteType (default All) applies to management and data events alike."""
    read = write = False
    excluded: list[set[str]] = []
    types: list[str] = []
    for item in items:
        kind = _get(item, "readWriteType")
        reads, writes = kind != "WriteOnly", kind != "ReadOnly"
        if _flag(_get(item, "includeManagementEvents")) is not False:  # AWS default: included
            read, write = read or reads, write or writes
            excluded.append(set(_texts(_get(item, "excludeManagementEventSources"))))
        for resource in _dicts(_get(item, "dataResources")):
            kind_name = _text(_get(resource, "type"))
            if kind_name and _texts(_get(resource, "values")):  # no ARN listed: no resource logged
                types.append(kind_name)
    return _summary("classic", read, write, excluded, types)


def _advanced(selectors_fields: list[dict[str, dict[str, list[str]]]]) -> TrailSelectors:
    """advancedEventSelectors: one selector logs the events matching all its field conditions."""
    read = write = False
    excluded: list[set[str]] = []
    types: list[str] = []
    for fields in selectors_fields:
        category = fields.get("eventCategory", {}).get("equals", [])
        # a management selector with other conditions (eventName, an eventSource `equals`) logs a
        # subset that cannot be summarised: trails reject them, and they count as no coverage
        if "Management" in category and set(fields) <= MANAGEMENT_FIELDS:
            source = fields.get("eventSource", {})
            if set(source) - {"notEquals"}:
                continue
            reads, writes = _read_write(fields.get("readOnly"))
            read, write = read or reads, write or writes
            excluded.append(set(source.get("notEquals", [])))
        elif "Data" in category:
            types += fields.get("resources.type", {}).get("equals", [])
    return _summary("advanced", read, write, excluded, types)


def _field_conditions(value: Any) -> dict[str, dict[str, list[str]]]:
    """{field: {operator: values}} of a selector's fieldSelectors; operators lower camelCase (`notEquals`)."""
    fields: dict[str, dict[str, list[str]]] = {}
    for condition in _dicts(value):
        name = _text(_get(condition, "field"))
        if name is None:
            continue
        operators = fields.setdefault(name, {})
        for key, values in list(condition.items())[:MAX_ITEMS]:
            if isinstance(key, str) and key.lower() != "field" and isinstance(values, list):
                # readOnly values are the text "true"/"false"; a JSON boolean means the same
                texts = [str(v).lower() if isinstance(v, bool) else v for v in values[:MAX_ITEMS]]
                operators[key[:1].lower() + key[1:]] = _texts(texts)
    return fields


def _read_write(read_only: dict[str, list[str]] | None) -> tuple[bool, bool]:
    """(reads, writes) a selector logs: readOnly equals true -> reads only, false -> writes only."""
    values = {v.lower() for v in (read_only or {}).get("equals", [])}
    if not read_only or not values or values == {"true", "false"}:
        return True, True
    return "true" in values, "false" in values


def _summary(form: str, read: bool, write: bool, excluded: list[set[str]], types: list[str]) -> TrailSelectors:
    # a source is left out only when every selector logging management events leaves it out
    left_out = set.intersection(*excluded) if excluded else set()
    return TrailSelectors(
        form=form,
        management_read=read,
        management_write=write,
        excluded_sources=sorted(left_out)[:MAX_LISTED],
        data_resource_types=list(dict.fromkeys(types))[:MAX_LISTED],
    )


def _disabled_features(params: dict[str, Any]) -> list[str]:
    names = [
        _text(_get(f, "name")) for f in _dicts(_get(params, "features")) if str(_get(f, "status")).upper() == "DISABLED"
    ]
    sources = _get(params, "dataSources")
    for path, feature in DATA_SOURCE_FEATURES.items():
        node = sources
        for key in path:
            node = _get(node, key) if isinstance(node, dict) else None
        if isinstance(node, dict) and _flag(_get(node, "enable")) is False:
            names.append(feature)
    return list(dict.fromkeys(n for n in names if n))[:MAX_LISTED]


def _trail_name(value: Any) -> str | None:
    """`arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit` -> org-audit; a plain name as is."""
    text = _text(value)
    if text and text.startswith("arn:") and ":trail/" in text:
        text = text.rsplit(":trail/", 1)[1] or None
    return text


def _get(obj: dict[str, Any], key: str) -> Any:
    """obj[key], trying the API's PascalCase spelling when CloudTrail's camelCase is absent."""
    if key in obj:
        return obj[key]
    return obj.get(key[:1].upper() + key[1:])


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value[:MAX_ITEMS] if isinstance(item, dict)] if isinstance(value, list) else []


def _texts(value: Any) -> list[str]:
    return [t for t in (_text(v) for v in value[:MAX_ITEMS]) if t] if isinstance(value, list) else []


def _flag(value: Any) -> bool | None:
    """A JSON boolean, or its text spelling ("false"); None for anything else."""
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(value.lower())
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None
