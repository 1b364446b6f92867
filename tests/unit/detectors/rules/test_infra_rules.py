"""The infrastructure and compliance detectors on what the normalizers really emit (their golden files),
plus what the case files cannot show: dataset coverage and bounded state."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from detectors.cases import make_event
from detectors.clock import EventClock
from detectors.engine import Engine
from detectors.registry import DETECTORS
from detectors.rules import cloud_sg_open_to_world, source_silent, vuln_sla_breach
from detectors.rules._tls import MAX_VALUES, due
from detectors.state import DictStore
from pipeline.normalizers.registry import NORMALIZERS
from schemas.event import Event

GOLDEN = Path(__file__).parents[3] / "data" / "normalizers"


def golden(name: str) -> list[Event]:
    """The events of a normalizer golden file, in file order."""
    records = json.loads((GOLDEN / name).read_text())
    return [Event.model_validate(e) for r in records for e in r.get("events", [])]


def run(det_id: str, events: list[Event], until: datetime | None = None, **params) -> list:
    """Final alerts of one detector over events, ticking on event time."""
    det = DETECTORS[det_id]
    engine = Engine(
        detectors=[(det, det.params(**params))], store=DictStore(), strict=True, lateness=timedelta(days=30)
    )
    clock = EventClock(engine, every=timedelta(hours=1))
    alerts = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        for alert in engine.process(event) + clock.observe(event.timestamp):
            alerts[alert.alert.id] = alert
    for alert in clock.finish(until):
        alerts[alert.alert.id] = alert
    return sorted(alerts.values(), key=lambda a: (a.alert.first_seen, a.alert.dedup_key))


def test_source_silent_hears_every_dataset_a_normalizer_emits():
    datasets = {__import__(n.parse.__module__, fromlist=["DATASET"]).DATASET for n in NORMALIZERS.values()}
    assert set(source_silent.DATASETS) == datasets


def test_security_group_calls_from_cloudtrail():
    alerts = run("cloud_sg_open_to_world", golden("cloudtrail/security_groups-expected.json"))
    assert [(a.alert.status, a.message) for a in alerts] == [
        ("resolved", "alice revoked the Internet-facing rules of security group sg-0a1b2c3d4e5f60718"),
        (
            "open",
            "AdministratorAccess-Okta opened security group sg-0a1b2c3d4e5f60718 (account 111122223333) to the "
            "whole Internet: tcp 3389 from 0.0.0.0/0",
        ),
    ]
    assert alerts[0].alert.first_seen == datetime(
        2026, 11, 28, 10, 1, 15, tzinfo=timezone.utc
    )  # the /0 with an address
    assert alerts[1].secmon.resource.id == "sg-0a1b2c3d4e5f60718" and alerts[1].cloud.region == "eu-west-1"


def deliver(det_id: str, delivered: list[Event], lateness: timedelta = timedelta(days=1)) -> dict[str, Any]:
    """Each entity's alert as it stands after delivering events in the given order (last update wins)."""
    det = DETECTORS[det_id]
    engine = Engine(detectors=[(det, det.params())], store=DictStore(), strict=True, lateness=lateness)
    return {a.alert.dedup_key: a for e in delivered for a in engine.process(e)}


def statuses(alerts: dict[str, Any]) -> dict[str, str]:
    return {key: alert.alert.status for key, alert in alerts.items()}


def sg_call(n: int, action: str, group: str, port: int) -> Event:
    """A security-group call n seconds into the hour (distinct times: a tie is decided by delivery)."""
    return make_event(
        {
            "@timestamp": f"2026-11-28T10:{n // 60:02d}:{n % 60:02d}Z",
            "event.id": f"e{n}",
            "event.dataset": "aws.cloudtrail",
            "event.action": action,
            "event.outcome": "success",
            "cloud.account.id": "111122223333",
            "user.name": "alice",
            "secmon.firewall_rules": [
                {
                    "direction": "ingress",
                    "group_id": group,
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "cidr": "0.0.0.0/0",
                }
            ],
        }
    )


def test_an_authorize_and_its_revoke_give_the_same_alert_in_either_order():
    pair = [
        sg_call(75, "AuthorizeSecurityGroupIngress", "sg-a", 22),
        sg_call(184, "RevokeSecurityGroupIngress", "sg-a", 22),
    ]
    in_time, reversed_ = deliver("cloud_sg_open_to_world", pair), deliver("cloud_sg_open_to_world", pair[::-1])
    assert in_time["111122223333|sg-a"].alert.status == "resolved"
    assert {k: a.model_dump() for k, a in reversed_.items()} == {k: a.model_dump() for k, a in in_time.items()}


def test_security_group_state_does_not_depend_on_delivery_order():
    """Whether each group ends with an open alert follows from the rules' latest authorize and revoke
    times alone. (Counts and first-seen times of an alert can differ: an alert id is fixed when it
    opens, so an opening delivered late joins whichever alert is open by then.)"""
    rng = random.Random(21)
    for _ in range(40):  # 40 histories, each delivered in time order and in 10 shuffles
        times = rng.sample(range(3000), 12)
        history = [
            sg_call(
                t,
                rng.choice(["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]),
                rng.choice(["sg-a", "sg-b"]),
                rng.choice([22, 3389]),
            )
            for t in sorted(times)
        ]
        expected = statuses(deliver("cloud_sg_open_to_world", history))
        for _ in range(10):
            assert statuses(deliver("cloud_sg_open_to_world", rng.sample(history, len(history)))) == expected


def test_version_1_state_of_a_group_still_resolves_on_its_revoke():
    det = DETECTORS["cloud_sg_open_to_world"]
    legacy = {"open": [["tcp", 22, 22, "0.0.0.0/0"]]}
    state, findings = det.step(legacy, sg_call(60, "RevokeSecurityGroupIngress", "sg-a", 22), det.params())
    assert [f.resolve for f in findings] == [True]
    assert not any(cloud_sg_open_to_world.is_open(rule) for rule in state["rules"].values())


def test_cloudtrail_security_group_calls_replayed_in_any_order_end_in_the_same_state():
    events = golden("cloudtrail/security_groups-expected.json")
    in_time = statuses(deliver("cloud_sg_open_to_world", sorted(events, key=lambda e: e.timestamp)))
    assert in_time == {"111122223333|sg-0a1b2c3d4e5f60718": "open"}  # 22 opened and revoked, then 3389 opened
    rng = random.Random(21)
    for _ in range(20):
        assert statuses(deliver("cloud_sg_open_to_world", rng.sample(events, len(events)))) == in_time


def test_tampering_calls_from_cloudtrail():
    user, trail = run("cloud_logging_tampering", golden("cloudtrail/tampering-expected.json"))
    # StopLogging and DeleteFlowLogs per user (failed calls skipped)
    assert (user.alert.dedup_key, user.alert.count) == ("111122223333|mallory", 2)
    assert user.user.name == "mallory" and user.cloud.account.id == "111122223333"
    # the selectors and trail changes are judged per trail (both reduce logging), and its deletion joins them
    assert (trail.alert.dedup_key, trail.alert.count) == ("111122223333|eu-west-1|trail/org-audit", 3)
    assert trail.secmon.resource.id == "org-audit"


def test_logging_reductions_from_cloudtrail_are_judged_against_what_the_trail_was_set_to():
    trail, user = run("cloud_logging_tampering", golden("cloudtrail/logging_config-expected.json"))
    # Terraform's CreateTrail, full selectors, SNS topic and detector enabling are quiet; mallory's
    # write-only selectors, empty selectors and weakening UpdateTrail are one alert on the trail
    assert (trail.alert.dedup_key, trail.alert.count, trail.user.name) == (
        "111122223333|eu-west-1|trail/org-audit",
        3,
        "mallory",
    )
    assert trail.message.endswith(
        "(UpdateTrail from 203.0.113.200): logs its home region only (isMultiRegionTrail "
        "false); no longer logs global service events such as IAM and STS; turned off log "
        "file integrity validation; delivers to S3 bucket attacker-owned-bucket-7731 "
        "instead of acme-cloudtrail-logs; stopped delivering to CloudWatch Logs; no longer "
        "encrypts its log files with KMS"
    )
    # GuardDuty disabled, protections turned off, and an unreadable selectors request (failed call skipped)
    assert (user.alert.dedup_key, user.alert.count) == ("111122223333|mallory", 3)


def test_early_expiry_of_trail_logs_from_cloudtrail():
    audit, console = run("cloud_trail_log_expiry", golden("cloudtrail/logging_config-expected.json"))
    # acme-audit-logs is known from its policy granting CloudTrail, acme-cloudtrail-logs from its name;
    # acme-web-assets' policy grants the world, not CloudTrail, and nothing expires it
    assert (audit.secmon.resource.id, audit.alert.count) == ("acme-audit-logs", 1)
    assert audit.message.endswith(
        "its rules delete objects after 1 day (rule purge-after-a-day), sooner than the 365 days trail logs are kept"
    )
    # old versions after 7 days, then a request that cannot be read: one alert, counted twice
    assert (console.secmon.resource.id, console.alert.count) == ("acme-cloudtrail-logs", 2)


def test_selector_reductions_name_what_is_no_longer_logged():
    events = golden("cloudtrail/logging_config-expected.json")
    store = DictStore()
    det = DETECTORS["cloud_logging_tampering"]
    engine = Engine(detectors=[(det, det.params())], store=store, strict=True, lateness=timedelta(days=30))
    messages = [
        a.message.split("): ", 1)[1]
        for e in sorted(events, key=lambda e: e.timestamp)
        for a in engine.process(e)
        if e.event.action == "PutEventSelectors" and e.event.outcome == "success"
    ]
    assert messages[:2] == [
        "no longer logs read management events, management events from kms.amazonaws.com, management events from "
        "rdsdata.amazonaws.com",
        "no longer logs write management events, data events of AWS::S3::Object",
    ]
    state = store.get("cloud_logging_tampering|111122223333|eu-west-1|trail/org-audit").state
    assert state["selectors"] == {"read": False, "write": False, "excluded": [], "data": []}
    assert len(json.dumps(state)) < 1024  # a trail's remembered settings stay small


def test_root_console_login_from_cloudtrail():
    (alert,) = run("root_account_usage", golden("cloudtrail/console_logins-expected.json"))
    assert (alert.alert.dedup_key, alert.user.name, alert.source.ip) == ("111122223333", "root", "198.51.100.99")
    assert alert.message.startswith("root signed in to the AWS console of account 111122223333 from 198.51.100.99")


def test_weak_certificates_from_zeek_x509():
    events = [e for name in ("x509_tsv", "x509_json", "x509_zeek3") for e in golden(f"zeek_x509/{name}-expected.json")]
    found = {a.secmon.resource.id[:16]: a.message.split(" is weak: ")[1] for a in run("tls_weak_certificate", events)}
    assert sorted(found.values()) == [
        "MD5 signature (md5WithRSAEncryption); DSA key of 1024 bits (under 2048)",  # the printer's client certificate
        "SHA-1 signature (sha1WithRSAEncryption); RSA key of 1024 bits (under 2048); expired on 2017-07-14",
        "SHA-1 signature (sha1WithRSAEncryption); expired on 2020-09-13",  # Zeek 3: named by issuer and serial
        "expired on 2026-11-18",  # the JSON row
    ]  # the self-signed SHA-1 root, ECDSA P-256 and the valid RSA leaves are fine
    assert "CN=Example Legacy CA|5A" in {a.secmon.resource.id for a in run("tls_weak_certificate", events)}


def test_weak_tls_from_zeek_and_web_logs():
    servers = {
        (a.destination.ip, a.destination.port)
        for a in run(
            "tls_weak_protocol",
            golden("zeek_ssl/ssl_tsv-expected.json") + golden("web_access/secmon_tls-expected.json"),
        )
    }
    assert servers == {
        ("203.0.113.5", 8443),
        ("203.0.113.6", 443),
        ("203.0.113.7", 443),
        ("203.0.113.8", 443),
        ("192.0.2.1", 443),
    }
    ciphers = run("tls_weak_cipher", golden("web_access/secmon_tls-expected.json"))
    assert [(a.alert.dedup_key, a.alert.count) for a in ciphers] == [("192.0.2.1|443", 2)]  # RC4-SHA, DES-CBC3-SHA


def test_laptops_from_osquery():
    alerts = run("laptop_noncompliant", golden("osquery/osqueryd.results-expected.json"))
    assert {a.host.name: a.message.split(": ", 1)[1] for a in alerts} == {
        "xps-bob": "disk encryption off; screen lock after 600s (max 300s)",
        "mbp-alice": "screen lock off",
        "SURFACE-CAROL": "disk encryption off",  # its screen lock was fixed by the next run
    }


def test_vulnerabilities_from_a_trivy_report_past_their_deadline():
    report = golden("trivy/image-debian-expected.json")
    (alert,) = run("vuln_sla_breach", report, until=datetime(2026, 12, 8, tzinfo=timezone.utc))
    assert alert.alert.first_seen == datetime(2026, 12, 7, 5, 10, 41, 914571, tzinfo=timezone.utc)
    assert "CVE-2023-45853 (CRITICAL, zlib1g" in alert.message  # will_not_fix is still open
    (later,) = run("vuln_sla_breach", report, until=datetime(2026, 12, 31, tzinfo=timezone.utc))
    assert later.alert.status == "resolved"  # the image was not scanned again for 30 days: retired
    assert later.message.endswith("has not been scanned since 2026-11-30T05:10Z: its findings are no longer tracked")


def test_deletion_from_control_events():
    alerts = run("deletion_sla_breach", golden("control/events-expected.json"))
    assert [(a.organization.id, a.alert.status) for a in alerts] == [("ws-umbrella", "resolved")]


def test_tls_state_keeps_a_bounded_number_of_values():
    state = None
    for i in range(3 * MAX_VALUES):
        state, report = due(state, f"cipher-{i}", float(i), 3600)
        assert report
    assert len(state["seen"]) == MAX_VALUES and "cipher-0" not in state["seen"]


def test_vulnerability_state_is_bounded_per_target():
    det = DETECTORS["vuln_sla_breach"]
    engine = Engine(detectors=[(det, det.params())], store=DictStore(), strict=True)
    base = {
        "@timestamp": "2026-11-30T05:00:00+00:00",
        "event": {"id": "s", "dataset": "vuln.finding", "module": "trivy", "action": "scan_completed"},
        "secmon": {"origin": {"source": "trivy"}, "finding": {"id": "s", "target": "t"}},
    }
    engine.process(Event.model_validate(base))
    for i in range(vuln_sla_breach.MAX_FINDINGS + 50):
        doc = json.loads(json.dumps(base))
        doc["event"].update(id=f"e{i}", action="vulnerability_found")
        doc["secmon"]["finding"].update(id=f"f{i}", status="open")
        doc["vulnerability"] = {"id": f"CVE-{i}", "severity": "HIGH"}
        engine.process(Event.model_validate(doc))
    state = engine.store.get("vuln_sla_breach|t").state
    assert len(state["f"]) == vuln_sla_breach.MAX_FINDINGS
    assert len(json.dumps(state)) < 400_000
