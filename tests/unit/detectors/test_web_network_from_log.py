"""The web attack and port scan detectors end to end: attack-style samples and the benign shared
samples through the embedded runner (sniff, parse, enrich, detect), no services.

The samples under tests/data/detectors mix one attacker with benign clients (browsing, searches that
read like SQL, a relative `..`, a web server's replies, DNS, health checks): exactly one alert per
attacking source, none for anyone else. The benign shared samples (../shared/data, never copied)
must raise nothing from these detectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import embedded
from pipeline.settings import SecmonSettings

DATA = Path(__file__).parents[2] / "data" / "detectors"
SHARED = Path(__file__).parents[4] / "shared" / "data"
OURS = frozenset({"web_sql_injection", "web_path_traversal", "web_scanner", "network_port_scan"})
BENIGN = [
    SHARED / "web_access_logs" / "elastic_examples_apache_logs.head300.log",
    SHARED / "invictus_cloudtrail" / "invictus_aws_dataset_subset.ndjson",
]


def alerts_of(path: Path) -> list[tuple[str, str, str]]:
    """(rule id, dedup key, severity) of every alert the embedded runner raises over one file."""
    summary = embedded.run([str(path)], SecmonSettings())
    assert not summary.dead_letters and not summary.detector_errors
    return sorted((a.rule.id, a.alert.dedup_key, a.alert.severity) for a in summary.alerts.values())


def test_sql_injection_probing_from_one_ip_is_one_alert():
    assert alerts_of(DATA / "web_sqli_probe.log") == [("web_sql_injection", "203.0.113.66", "high")]


def test_path_traversal_from_one_ip_is_one_alert():
    assert alerts_of(DATA / "web_traversal_probe.log") == [("web_path_traversal", "198.51.100.23", "high")]


def test_vertical_and_horizontal_scans_are_one_alert_per_source():
    assert alerts_of(DATA / "vpcflow_port_scans.log") == [
        ("network_port_scan", "10.0.2.40", "high"),  # SMB sweep from inside: lateral movement
        ("network_port_scan", "185.220.101.9", "medium"),  # 26 ports of one host, 22 and 443 open
    ]


def test_attack_alerts_carry_the_evidence():
    summary = embedded.run([str(DATA / "web_sqli_probe.log")], SecmonSettings())
    (alert,) = summary.alerts.values()
    assert alert.source.ip == "203.0.113.66"
    # 16 payloads (the plain and lone-quote requests are no evidence); the alert is updated when its
    # severity rises or its evidence doubles, so it holds the first 10 and the next update comes at 20
    assert (alert.secmon.event_count, alert.alert.count) == (10, 5)
    assert "(boolean, numeric_tautology, order_by_probe, schema_probe, union_select)" in alert.message


@pytest.mark.parametrize("path", BENIGN, ids=lambda p: p.name)
def test_benign_shared_samples_raise_nothing_from_these_detectors(path: Path):
    if not path.exists():
        pytest.skip(f"{path} not present (shared samples live beside the repository)")
    summary = embedded.run([str(path)], SecmonSettings())
    assert summary.events > 0
    assert [a.message for a in summary.alerts.values() if a.rule.id in OURS] == []
