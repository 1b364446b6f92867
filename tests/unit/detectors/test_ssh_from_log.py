"""The SSH detectors end to end: a real auth.log through the embedded runner (sniff, parse, enrich,
detect, event-time timer), no services."""

from __future__ import annotations

from pathlib import Path

from pipeline import embedded
from pipeline.settings import SecmonSettings

LOG = Path(__file__).parents[2] / "data" / "detectors" / "ssh_auth.log"


def run_log(settings: SecmonSettings | None = None) -> embedded.Summary:
    """The embedded runner over the sample auth.log."""
    return embedded.run([str(LOG)], settings or SecmonSettings())


def test_auth_log_raises_exactly_the_expected_alerts():
    summary = run_log()
    found = sorted((a.rule.id, a.alert.dedup_key) for a in summary.alerts.values())
    assert found == [
        ("signin_bruteforce_ip", "ssh|bastion-1|185.220.101.45"),  # 10 Failed root passwords, two connections
        ("ssh_login_without_2fa", "carol|bastion-1|203.0.113.40"),  # publickey, nothing after it
        ("ssh_root_login", "web-1|192.0.2.10"),  # root with key + keyboard-interactive: 2FA, still root
        ("ssh_user_enumeration", "2001:db8:bad::5"),  # six invalid users; 18 lines but 6 attempts: no brute force
    ]
    assert not summary.dead_letters and not summary.detector_errors


def test_alerts_carry_their_entities_and_evidence():
    alerts = {a.rule.id: a for a in run_log().alerts.values()}
    brute = alerts["signin_bruteforce_ip"]
    assert (brute.source.ip, brute.host.name, brute.alert.severity) == ("185.220.101.45", "bastion-1", "medium")
    # 6 + 4 Failed lines (two "message repeated" expanded) + the max-attempts line, sshd's
    # "Disconnecting ...: Too many authentication failures" and each pid's PAM failure (evidence,
    # paired by pid with the Failed lines: not extra attempts)
    assert brute.secmon.event_count == 14
    no_2fa = alerts["ssh_login_without_2fa"]
    assert (no_2fa.user.name, no_2fa.host.name, no_2fa.source.ip) == ("carol", "bastion-1", "203.0.113.40")
    assert no_2fa.alert.first_seen.isoformat().startswith("2026-11-30T08:04:40")  # login + pair_seconds
    root = alerts["ssh_root_login"]
    assert (root.host.name, root.source.ip, root.user.name) == ("web-1", "192.0.2.10", "root")
    assert root.alert.severity == "high"
    enum = alerts["ssh_user_enumeration"]
    assert enum.source.ip == "2001:db8:bad::5" and enum.host is None
    assert "(admin, oracle, pi, test, ubuntu)" in enum.message


def test_policy_overrides_change_the_alert_set():
    settings = SecmonSettings.model_validate(
        {
            "detection": {
                "detectors": {
                    "ssh_login_without_2fa": {"params": {"exempt_users": ["carol"]}},
                    "ssh_root_login": {"params": {"exempt_sources": ["192.0.2.0/24"]}},
                    "signin_bruteforce_ip": {"params": {"threshold": 11}},
                }
            }
        }
    )
    found = sorted(a.rule.id for a in run_log(settings).alerts.values())
    assert found == ["ssh_user_enumeration"]
