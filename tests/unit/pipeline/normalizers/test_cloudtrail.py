"""CloudTrail behaviours worth naming: delivery-file splitting, identities, console logins, rules."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.cloudtrail import NORMALIZER, parse, split
from pipeline.normalizers.registry import sniff
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Event, Origin

CTX = ParseOptions()
ORIGIN = Origin(source="cloudtrail", file="t.json", file_id="f1", offset=0)
BASE: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE1",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-11-28T10:00:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "DescribeInstances",
    "awsRegion": "eu-west-1",
    "sourceIPAddress": "198.51.100.23",
    "userAgent": "aws-cli/2.22.4",
    "requestParameters": None,
    "responseElements": None,
    "eventID": "e0f10001-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
    "eventType": "AwsApiCall",
    "recipientAccountId": "111122223333",
}


def record(**changes: Any) -> dict[str, Any]:
    """A CloudTrail record with top-level keys replaced (None values are kept: CloudTrail writes nulls)."""
    rec = copy.deepcopy(BASE)
    rec.update(changes)
    return rec


def one(rec: dict[str, Any], parse_options: ParseOptions = CTX) -> Event:
    events = parse(RawRecord(data=json.dumps(rec).encode(), origin=ORIGIN), parse_options)
    assert len(events) == 1
    return events[0]


def write_delivery(path: Path, records: list[dict[str, Any]], compress: bool = False) -> str:
    data = (json.dumps({"Records": records}, separators=(",", ":")) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_delivery_file_yields_one_record_per_element_with_distinct_ids(tmp_path, compress):
    names = ["StopLogging", "DeleteTrail", "GetUser"]
    path = write_delivery(tmp_path / "d.json.gz", [record(eventName=n) for n in names], compress)
    records = list(read_records(path, NORMALIZER, 1024 * 1024))
    assert [r.origin.index for r in records] == [0, 1, 2]
    assert {r.origin.offset for r in records} == {0}
    events = [e for r in records for e in process_record(r, NORMALIZER, [], CTX).events]
    assert [e.event.action for e in events] == names
    assert len({e.event.id for e in events}) == 3


def test_delivery_file_over_the_record_limit_is_read_whole_then_split(tmp_path):
    """A delivery file is one line; max_line_bytes lets it past parse.max_record_bytes (1 MiB)."""
    many = [record(eventName="Decrypt", requestParameters={"pad": "x" * 1500, "n": i}) for i in range(1000)]
    path = write_delivery(tmp_path / "big.json", many)
    assert Path(path).stat().st_size > 1024 * 1024
    results = [process_record(r, NORMALIZER, [], CTX) for r in read_records(path, NORMALIZER, 1024 * 1024)]
    assert len(results) == 1000 and all(r.dead_letter is None and len(r.events) == 1 for r in results)


def test_empty_delivery_file_yields_no_records(tmp_path):
    assert list(read_records(write_delivery(tmp_path / "e.json", []), NORMALIZER, 1024 * 1024)) == []


@pytest.mark.parametrize(
    "line", [b'{"eventName": "GetUser"}', b'{"Records": {"a": 1}}', b'{"Records": [', b"\xff\xfe", b"[" * 5000, b""]
)
def test_split_returns_other_lines_unchanged(line):
    parts = split(line)
    assert len(parts) == 1 and parts[0] is line


def test_split_keeps_non_ascii_and_lone_surrogates_parseable():
    line = b'{"Records":[' + json.dumps(record(userAgent="caf\u00e9 \ud83d\ude00 \ud800")).encode() + b"]}"
    (part,) = split(line)
    event = parse(RawRecord(data=part, origin=ORIGIN), CTX)[0]
    assert event.user_agent.original.startswith("caf\u00e9 \U0001f600 \ufffd")


def test_records_document_that_was_not_split_says_so():
    with pytest.raises(ParseError) as err:
        parse(RawRecord(data=b'{"Records": {"eventName": "GetUser"}}', origin=ORIGIN), CTX)
    assert err.value.code == "invalid_shape" and "Records" in err.value.reason


@pytest.mark.parametrize(
    "line", [b"[" * 5000 + b"]" * 5000, b'{"Records":[' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]}"]
)
def test_deeply_nested_json_is_too_deep(line):
    (part,) = split(line)
    with pytest.raises(ParseError) as err:
        parse(RawRecord(data=part, origin=ORIGIN), CTX)
    assert err.value.code == "too_deep"


def test_digest_file_is_not_an_event():
    digest = {"awsAccountId": "111122223333", "digestStartTime": "2026-11-28T09:00:00Z", "logFiles": []}
    assert parse(RawRecord(data=json.dumps(digest).encode(), origin=ORIGIN), CTX) == []


@pytest.mark.parametrize(
    ("identity", "name"),
    [
        ({"type": "IAMUser", "principalId": "AIDA1", "userName": "alice"}, "alice"),
        ({"type": "IAMUser", "principalId": "AIDA1", "arn": "arn:aws:iam::111122223333:user/ops/bob"}, "bob"),
        ({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root"}, "root"),
        (
            {
                "type": "AssumedRole",
                "principalId": "AROA1:s",
                "arn": "arn:aws:sts::111122223333:assumed-role/Admin/s",
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin"}},
            },
            "Admin",
        ),
        (
            {
                "type": "AssumedRole",
                "principalId": "AROA1:carol",
                "arn": "arn:aws:sts::111122223333:assumed-role/Admin/carol",
            },
            "carol",
        ),
        (
            {
                "type": "FederatedUser",
                "principalId": "111122223333:dave",
                "arn": "arn:aws:sts::111122223333:federated-user/dave",
            },
            "dave",
        ),
        ({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, None),
    ],
)
def test_user_name_by_identity_type(identity, name):
    event = one(record(userIdentity=identity))
    assert (event.user.name if event.user else None) == name
    assert event.related.user == ([name] if name else [])


@pytest.mark.parametrize(
    ("address", "ip", "domain"),
    [
        ("198.51.100.23", "198.51.100.23", None),
        ("::ffff:198.51.100.23", "198.51.100.23", None),
        ("2001:db8::1", "2001:db8::1", None),
        ("ec2.amazonaws.com", None, "ec2.amazonaws.com"),
        ("AWS Internal", None, None),
    ],
)
def test_source_ip_only_when_the_address_is_an_ip(address, ip, domain):
    source = one(record(sourceIPAddress=address)).source
    assert (source.ip, source.domain, source.address) == (ip, domain, address)


def login(mfa: Any = "No", result: Any = "Success", **changes: Any) -> dict[str, Any]:
    fields = {
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "eventType": "AwsConsoleSignIn",
        "responseElements": {"ConsoleLogin": result},
        "additionalEventData": {"MFAUsed": mfa},
    }
    return record(**{**fields, **changes})


@pytest.mark.parametrize(
    ("mfa", "expected"),
    [("Yes", True), ("yes", True), ("No", False), ("NO", False), ("maybe", None), (True, None), (None, None)],
)
def test_console_login_mfa_from_mfa_used(mfa, expected):
    event = one(login(mfa))
    assert event.event.category == ["authentication"]
    assert event.secmon.auth.method == "password" and event.secmon.auth.mfa is expected


def test_failed_console_login_has_no_error_code_but_fails():
    event = one(login(result="Failure", errorMessage="Failed authentication"))
    assert (event.event.outcome, event.event.type) == ("failure", ["info"])
    assert event.error.message == "Failed authentication" and event.error.code is None


def test_failed_console_login_for_unknown_name_has_no_user():
    hidden = {"type": "IAMUser", "accountId": "111122223333", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}
    event = one(login(result="Failure", userIdentity=hidden))
    assert event.user is None and event.related.user == []


def test_saml_console_login_is_sso():
    event = one(login(additionalEventData={"MFAUsed": "No", "SamlProviderArn": "arn:aws:iam::1:saml-provider/okta"}))
    assert event.secmon.auth.method == "sso"


def test_api_error_makes_the_outcome_failure():
    event = one(
        record(
            eventName="StopLogging",
            eventSource="cloudtrail.amazonaws.com",
            errorCode="AccessDenied",
            errorMessage="not authorized",
        )
    )
    assert event.event.outcome == "failure" and event.error.code == "AccessDenied"
    assert event.cloud.service.name == "cloudtrail" and event.event.provider == "cloudtrail.amazonaws.com"


def test_tls_details_give_version_number_and_cipher():
    tls = one(record(tlsDetails={"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256"})).tls
    assert (tls.version, tls.version_protocol, tls.cipher) == ("1.2", "tls", "ECDHE-RSA-AES128-GCM-SHA256")


def authorize(direction: str = "Ingress", **params: Any) -> dict[str, Any]:
    return record(eventName=f"AuthorizeSecurityGroup{direction}", requestParameters={"groupId": "sg-1", **params})


def test_flat_and_nested_requests_give_the_same_rule():
    flat = one(authorize(ipProtocol="tcp", fromPort=22, toPort=22, cidrIp="0.0.0.0/0"))
    nested = one(
        authorize(
            ipPermissions={
                "items": [
                    {
                        "ipProtocol": "tcp",
                        "fromPort": 22,
                        "toPort": 22,
                        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                    }
                ]
            }
        )
    )
    assert flat.secmon.firewall_rules == nested.secmon.firewall_rules
    (rule,) = flat.secmon.firewall_rules
    assert (rule.direction, rule.group_id, rule.protocol, rule.from_port, rule.to_port, rule.cidr) == (
        "ingress",
        "sg-1",
        "tcp",
        22,
        22,
        "0.0.0.0/0",
    )
    assert flat.event.category == ["configuration", "network"]


def test_cidr_is_kept_exactly_as_written():
    (rule,) = one(authorize(ipProtocol="tcp", fromPort=22, toPort=22, cidrIp="208.236.235.254/0")).secmon.firewall_rules
    assert rule.cidr == "208.236.235.254/0"


def test_all_protocols_rule_has_no_ports_and_each_range_is_a_rule():
    permission = {
        "ipProtocol": "-1",
        "fromPort": 0,
        "toPort": 0,
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
        "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]},
    }
    rules = one(authorize("Egress", ipPermissions={"items": [permission]})).secmon.firewall_rules
    assert [(r.direction, r.protocol, r.from_port, r.cidr) for r in rules] == [
        ("egress", "-1", None, "0.0.0.0/0"),
        ("egress", "-1", None, "::/0"),
    ]


@pytest.mark.parametrize(
    "params",
    [
        "groupId=sg-1",
        [1, 2],
        {"ipPermissions": "all"},
        {"ipPermissions": {"items": "x"}},
        {"ipPermissions": {"items": [None, 3, {"ipProtocol": {}, "fromPort": "22x", "toPort": 2**70}]}},
        {"ModifySecurityGroupRulesRequest": [1]},
    ],
)
def test_unexpected_request_shapes_never_fail_the_event(params):
    for name in ("AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"):
        event = one(record(eventName=name, requestParameters=params))
        assert all(r.cidr is None or isinstance(r.cidr, str) for r in event.secmon.firewall_rules)


def selectors(**params: Any) -> dict[str, Any]:
    return record(
        eventSource="cloudtrail.amazonaws.com",
        eventName="PutEventSelectors",
        requestParameters={"trailName": "org-audit", **params},
    )


def management(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}, *conditions]}


@pytest.mark.parametrize(
    ("items", "read", "write", "excluded"),
    [
        ([{}], True, True, []),  # CloudTrail's defaults: All, management events included
        ([{"readWriteType": "ReadOnly"}], True, False, []),
        (
            [{"readWriteType": "WriteOnly", "excludeManagementEventSources": ["kms.amazonaws.com"]}],
            False,
            True,
            ["kms.amazonaws.com"],
        ),
        ([{"readWriteType": "ReadOnly"}, {"readWriteType": "WriteOnly"}], True, True, []),
        ([{"includeManagementEvents": False}], False, False, []),
        # a source is excluded only when every selector logging management events excludes it
        ([{"excludeManagementEventSources": ["kms.amazonaws.com"]}, {"readWriteType": "ReadOnly"}], True, True, []),
        ([], False, False, []),
    ],
)
def test_classic_selectors_management_coverage(items, read, write, excluded):
    summary = one(selectors(eventSelectors=items)).secmon.logging_config.selectors
    assert (summary.form, summary.management_read, summary.management_write, summary.excluded_sources) == (
        "classic",
        read,
        write,
        excluded,
    )


@pytest.mark.parametrize(
    ("items", "read", "write", "excluded"),
    [
        ([management()], True, True, []),
        ([management({"field": "readOnly", "equals": ["true"]})], True, False, []),
        ([management({"field": "readOnly", "equals": [False]})], False, True, []),
        (
            [management({"field": "eventSource", "notEquals": ["kms.amazonaws.com", "rdsdata.amazonaws.com"]})],
            True,
            True,
            ["kms.amazonaws.com", "rdsdata.amazonaws.com"],
        ),
        ([management({"field": "eventSource", "equals": ["s3.amazonaws.com"]})], False, False, []),  # some sources only
        (
            [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "readOnly", "Equals": ["false"]},
                    ]
                }
            ],
            False,
            True,
            [],
        ),  # the API's PascalCase
        ([], False, False, []),
    ],
)
def test_advanced_selectors_management_coverage(items, read, write, excluded):
    summary = one(selectors(advancedEventSelectors=items)).secmon.logging_config.selectors
    assert (summary.form, summary.management_read, summary.management_write, summary.excluded_sources) == (
        "advanced",
        read,
        write,
        excluded,
    )


def test_data_resource_types_from_both_selector_forms():
    classic = [
        {
            "readWriteType": "All",
            "includeManagementEvents": False,
            "dataResources": [
                {"type": "AWS::S3::Object", "values": ["arn:aws:s3:::acme-exports/"]},
                {"type": "AWS::Lambda::Function", "values": []},
            ],
        }
    ]
    advanced = [
        {
            "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::DynamoDB::Table"]},
            ]
        }
    ]
    by_trail_arn = {"trailName": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit"}
    config = one(selectors(eventSelectors=classic, **by_trail_arn)).secmon.logging_config
    assert config.trail == "org-audit" and config.selectors.data_resource_types == ["AWS::S3::Object"]
    assert one(selectors(advancedEventSelectors=advanced)).secmon.logging_config.selectors.data_resource_types == [
        "AWS::DynamoDB::Table"
    ]


def test_update_trail_settings_and_cleared_values():
    config = one(
        record(
            eventSource="cloudtrail.amazonaws.com",
            eventName="UpdateTrail",
            requestParameters={
                "name": "org-audit",
                "isMultiRegionTrail": False,
                "includeGlobalServiceEvents": False,
                "enableLogFileValidation": False,
                "s3BucketName": "elsewhere",
                "kmsKeyId": "",
                "cloudWatchLogsLogGroupArn": "",
                "snsTopicName": "notices",
            },
        )
    ).secmon.logging_config
    assert (
        config.trail,
        config.multi_region,
        config.global_service_events,
        config.log_file_validation,
        config.s3_bucket,
        config.kms_key,
        config.cleared,
    ) == ("org-audit", False, False, False, "elsewhere", None, ["cloudwatch_log_group", "kms_key"])
    assert config.selectors is None and config.organization_trail is None


def test_update_detector_enable_and_disabled_protections():
    config = one(
        record(
            eventSource="guardduty.amazonaws.com",
            eventName="UpdateDetector",
            requestParameters={
                "detectorId": "d1",
                "enable": False,
                "findingPublishingFrequency": "SIX_HOURS",
                "features": [
                    {"name": "RDS_LOGIN_EVENTS", "status": "DISABLED"},
                    {"name": "S3_DATA_EVENTS", "status": "ENABLED"},
                ],
                "dataSources": {"s3Logs": {"enable": False}},
            },
        )
    ).secmon.logging_config
    assert (config.detector_id, config.detector_enabled, config.disabled_features) == (
        "d1",
        False,
        ["RDS_LOGIN_EVENTS", "S3_DATA_EVENTS"],
    )


def test_logging_config_only_for_logging_calls():
    assert one(record(eventName="UpdateTrail", requestParameters={"name": "t"})).secmon.logging_config is None  # ec2
    assert one(authorize(ipProtocol="tcp")).secmon.logging_config is None


@pytest.mark.parametrize(
    "params",
    [
        {"eventSelectors": "all"},
        {"eventSelectors": [None, {}]},
        {"advancedEventSelectors": [{"fieldSelectors": "x"}]},
        {"advancedEventSelectors": [{"fieldSelectors": [{"field": ["eventCategory"], "equals": "Management"}]}]},
        {"advancedEventSelectors": [management(), 7]},
    ],
)
def test_unreadable_selectors_are_not_guessed(params):
    config = one(selectors(**params)).secmon.logging_config
    assert config.trail == "org-audit" and config.selectors is None


def test_selector_lists_and_texts_are_bounded():
    many = [
        {
            "readWriteType": "All",
            "excludeManagementEventSources": [f"s{i}.amazonaws.com" for i in range(500)],
            "dataResources": [{"type": f"AWS::T::{i}", "values": ["arn:x"]} for i in range(500)],
        }
    ]
    summary = one(selectors(eventSelectors=many)).secmon.logging_config.selectors
    assert len(summary.excluded_sources) <= 32 and len(summary.data_resource_types) <= 32
    long_name = one(selectors(eventSelectors=[], trailName="t" * 5000)).secmon.logging_config
    assert long_name.trail is None


def lifecycle_call(*rules: dict[str, Any], name: str = "PutBucketLifecycle") -> dict[str, Any]:
    rule = rules[0] if len(rules) == 1 else list(rules)  # CloudTrail writes one rule as an object
    return record(
        eventSource="s3.amazonaws.com",
        eventName=name,
        requestParameters={"bucketName": "logs", "LifecycleConfiguration": {"Rule": rule}},
    )


@pytest.mark.parametrize(
    ("rules", "days", "date", "rule_id"),
    [
        ([{"Status": "Enabled", "ID": "a", "Expiration": {"Days": 1}}], 1, None, "a"),
        (
            [
                {"Status": "Enabled", "ID": "a", "Expiration": {"Days": "400"}},
                {"Status": "Enabled", "ID": "b", "NoncurrentVersionExpiration": {"NoncurrentDays": "3"}},
            ],
            3,
            None,
            "b",
        ),
        ([{"Status": "Disabled", "ID": "a", "Expiration": {"Days": 1}}], None, None, None),
        ([{"Status": "Enabled", "ID": "a", "Transition": {"Days": 1, "StorageClass": "GLACIER"}}], None, None, None),
        (
            [{"Status": "Enabled", "Expiration": {"Date": "2026-12-01T00:00:00Z"}}],
            None,
            "2026-12-01T00:00:00+00:00",
            None,
        ),
        (
            [{"Status": "Enabled", "Expiration": {"Days": True}}, {"Status": "Enabled", "Expiration": {"Days": "-1"}}],
            None,
            None,
            None,
        ),
    ],
)
def test_lifecycle_rules_are_summarised_by_the_soonest_deletion(rules, days, date, rule_id):
    summary = one(lifecycle_call(*rules)).secmon.logging_config.lifecycle
    assert (
        summary.expiration_days,
        summary.expiration_date and summary.expiration_date.isoformat(),
        summary.rule_id,
    ) == (days, date, rule_id)


def test_a_lifecycle_request_without_a_configuration_is_unread_not_harmless():
    config = one(
        record(
            eventSource="s3.amazonaws.com",
            eventName="PutBucketLifecycle",
            requestParameters={"bucketName": "logs", "LifecycleConfiguration": "<xml/>"},
        )
    ).secmon.logging_config
    assert (config.bucket, config.lifecycle) == ("logs", None)


@pytest.mark.parametrize(
    ("policy", "delivery"),
    [
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject"}
                ]
            },
            True,
        ),
        (
            json.dumps(
                {
                    "Statement": {
                        "Effect": "Allow",
                        "Principal": {"Service": ["config.amazonaws.com", "cloudtrail.amazonaws.com"]},
                    }
                }
            ),
            True,
        ),
        ({"Statement": [{"Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"}}]}, False),
        ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}, False),
        ("{not json", None),
    ],
)
def test_a_bucket_policy_says_whether_cloudtrail_may_deliver(policy, delivery):
    rec = record(
        eventSource="s3.amazonaws.com",
        eventName="PutBucketPolicy",
        requestParameters={"bucketName": "logs", "bucketPolicy": policy},
    )
    assert one(rec).secmon.logging_config.cloudtrail_delivery is delivery


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    call=st.sampled_from(
        [
            ("cloudtrail.amazonaws.com", "PutEventSelectors"),
            ("cloudtrail.amazonaws.com", "UpdateTrail"),
            ("guardduty.amazonaws.com", "UpdateDetector"),
            ("s3.amazonaws.com", "PutBucketLifecycle"),
            ("s3.amazonaws.com", "PutBucketPolicy"),
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(
            [
                "trailName",
                "name",
                "eventSelectors",
                "advancedEventSelectors",
                "s3BucketName",
                "kmsKeyId",
                "enable",
                "features",
                "dataSources",
                "bucketName",
                "LifecycleConfiguration",
                "bucketPolicy",
            ]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "field",
                            "equals",
                            "notEquals",
                            "name",
                            "status",
                            "enable",
                            "readWriteType",
                            "fieldSelectors",
                            "s3Logs",
                            "Rule",
                            "Status",
                            "Expiration",
                            "Days",
                            "Date",
                            "Statement",
                            "Principal",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=20,
        ),
        max_size=4,
    ),
)
def test_any_logging_request_gives_a_typed_summary(call, params):
    event = one(record(eventSource=call[0], eventName=call[1], requestParameters=params))
    json.dumps(event.to_doc())
    assert event.secmon.logging_config is not None


def test_keep_original_stores_the_record_not_the_delivery_file():
    line = json.dumps({"Records": [record(), record(eventName="GetUser")]}).encode()
    parts = split(line)
    event = parse(RawRecord(data=parts[1], origin=ORIGIN), ParseOptions(keep_original=True))[0]
    assert json.loads(event.event.original)["eventName"] == "GetUser"


def test_event_time_without_offset_uses_the_configured_timezone():
    from datetime import timedelta, timezone

    event = one(record(eventTime="2026-11-28T10:00:00"), ParseOptions(default_tz=timezone(timedelta(hours=2))))
    assert event.timestamp.isoformat() == "2026-11-28T08:00:00+00:00"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-01T00:00:00Z"])
def test_event_time_out_of_range_is_a_parse_error(when):
    with pytest.raises(ParseError) as err:
        one(record(eventTime=when))
    assert err.value.code == "invalid_field" and err.value.reason.startswith("eventTime")


def test_sniff_claims_cloudtrail_lines_only():
    assert sniff(json.dumps(BASE).encode()) is NORMALIZER
    assert sniff(b'{"Records":[' + json.dumps(BASE).encode()) is NORMALIZER
    assert not NORMALIZER.sniff(b'{"timestamp": "x", "user": "a", "outcome": "success", "source_ip": "1.2.3.4"}')
    assert not NORMALIZER.sniff(b"2 111122223333 eni-0a1b 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
FIELDS = sorted(BASE) + ["tlsDetails", "additionalEventData"]
CALLS = [
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "ConsoleLogin",
    "CreateAccessKey",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CALLS), field=st.sampled_from(FIELDS), value=json_values, params=json_values)
def test_any_json_value_anywhere_gives_an_event_or_a_parse_error(name, field, value, params):
    rec = record(eventName=name, eventSource="iam.amazonaws.com", requestParameters=params, responseElements=params)
    rec[field] = value
    try:
        for event in parse(RawRecord(data=json.dumps(rec).encode(), origin=ORIGIN), CTX):
            json.dumps(event.to_doc())
    except ParseError as exc:
        assert exc.code in ("invalid_field", "invalid_shape")
