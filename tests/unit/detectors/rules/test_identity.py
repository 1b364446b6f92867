"""The identity view and the detectors over it: real log shapes through the embedded runner
(sniff, parse, GeoIP enrichment, detect), attack replays, delivery order, benign samples."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from detectors.identity import host_group, login_of
from detectors.state import DictStore
from pipeline import embedded
from pipeline.settings import SecmonSettings
from schemas.event import Event
from tests.factories import signin
from tests.unit.detectors.sigma.helpers import SHARED

DATA = Path(__file__).parents[3] / "data"
REPLAYS = DATA / "detectors" / "identity"
NEW = ("ssh_impossible_travel", "ssh_new_source")
COUNTING = ("signin_bruteforce_ip", "signin_bruteforce_user", "signin_password_spray", "signin_success_after_failures")
IDENTITY = (
    *NEW,
    *COUNTING,
    "signin_impossible_travel",
    "signin_new_asn",
    "signin_new_country",
    "signin_new_device",
)


def golden(path: str) -> list[Event]:
    records = json.loads((DATA / "normalizers" / path).read_text(encoding="utf-8"))
    return [Event.model_validate(e) for r in records for e in r.get("events", [])]


def identity_alerts(paths: list[Path], source: str | None = None) -> list[tuple[str, str, str]]:
    """(rule id, dedup key, status) of the identity detectors' alerts, sorted."""
    summary = embedded.run([str(p) for p in paths], SecmonSettings(), source=source)
    assert not summary.dead_letters and not summary.detector_errors
    return sorted(
        (a.rule.id, a.alert.dedup_key, a.alert.status) for a in summary.alerts.values() if a.rule.id in IDENTITY
    )


def test_every_login_source_reads_into_the_same_shape():
    ssh = [login_of(e) for e in golden("sshd/auth-expected.json")]
    accepted = next(x for x in ssh if x and x.success)
    assert (accepted.source, accepted.scope, accepted.user, accepted.ip) == (
        "ssh",
        "bastion-1",
        "alice",
        "198.51.100.23",
    )
    console = [login_of(e) for e in golden("cloudtrail/console_logins-expected.json")]
    assert {(x.source, x.scope, x.user, x.mfa) for x in console if x} >= {
        ("aws_console", "111122223333", "alice", True),
        ("aws_console", "111122223333", "bob", False),
    }
    app = login_of(signin(**{"organization.id": "ws-acme", "secmon.auth.mfa": True}))
    assert app is not None and (app.source, app.scope, app.success, app.mfa) == ("app", "ws-acme", False, True)


def test_okta_sign_ins_read_into_the_same_shape_and_factors_are_no_logins():
    okta = [login_of(e) for e in golden("okta/system_log-expected.json")]
    assert [(x.source, x.scope, x.user, x.success, x.ip) for x in okta if x] == [
        ("okta", "-", "alice@acme.example", True, "198.51.100.23"),
        ("okta", "-", "bob@acme.example", False, "2001:db8:66::17"),
    ]  # auth_via_mfa, account lock, policy and system events are not logins


def test_half_logins_and_other_calls_are_no_logins():
    partial = next(e for e in golden("sshd/auth-expected.json") if e.event.action == "ssh_partial_auth")
    assert login_of(partial) is None
    assert login_of(signin(**{"event.dataset": "aws.cloudtrail", "event.action": "DescribeInstances"})) is None
    sts = login_of(
        signin(**{"event.dataset": "aws.cloudtrail", "event.action": "GetSessionToken", "cloud.account.id": "1234"})
    )
    assert sts is not None and (sts.source, sts.scope) == ("aws_sts", "1234")


def test_host_groups_match_globs_in_order_else_the_host_alone():
    groups = {"bastions": ["bastion-*"], "all-web": ["web-*", "bastion-9"]}
    assert [host_group(h, groups) for h in ("Bastion-9", "web-2", "db-1")] == ["bastions", "all-web", "db-1"]


def test_a_login_is_scoped_to_its_host_group_and_an_unlisted_host_keeps_the_login():
    accepted = next(x for x in map(login_of, golden("sshd/auth-expected.json")) if x and x.success)
    assert accepted.scoped({}) is accepted and accepted.scoped({"db": ["db-*"]}) is accepted
    grouped = accepted.scoped({"bastions": ["BASTION-*"]})
    assert grouped == replace(accepted, scope="bastions") and accepted.scope == "bastion-1"


def test_six_console_failures_from_one_ip_and_a_guessed_password_raise_one_alert_each():
    assert identity_alerts([REPLAYS / "aws_console_bruteforce.json"]) == [
        ("signin_bruteforce_ip", "aws|111122223333|45.155.205.233", "open"),
        ("signin_success_after_failures", "aws|111122223333|carol", "open"),
    ]  # alice's one typo and the CI key's denied GetSessionToken: nothing


def test_okta_credential_stuffing_and_a_guessed_password_raise_one_alert_each(tmp_path):
    path = REPLAYS / "okta_signins.jsonl"
    expected = [
        ("signin_bruteforce_ip", "okta|-|45.155.205.233", "open"),
        ("signin_password_spray", "okta|-|45.155.205.233", "open"),
        ("signin_success_after_failures", "okta|-|carol@acme.example", "open"),
    ]  # dave's two typos before getting in: nothing
    assert identity_alerts([path], source="okta") == expected
    lines = path.read_text(encoding="utf-8").splitlines()
    times = [datetime.fromisoformat(json.loads(ln)["published"]).timestamp() for ln in lines]
    for seed in range(5):  # log streaming and API pages need not deliver in event order
        out = tmp_path / f"{seed}.jsonl"
        out.write_text("\n".join(jittered(lines, times, random.Random(seed))) + "\n", encoding="utf-8")
        assert identity_alerts([out], source="okta") == expected


def test_ssh_user_in_australia_then_the_usa_three_seconds_later_is_one_alert():
    assert identity_alerts([REPLAYS / "ssh_travel.log"]) == [
        ("ssh_impossible_travel", "deploy|bastion-1", "open")
    ]  # alice's 10 hours AU -> US is a flight


def test_sotm34_like_account_alerts_once_per_network_it_came_from():
    found = identity_alerts([REPLAYS / "sotm34_like.log"])
    assert {rule for rule, _, _ in found} == {"ssh_new_source"}
    networks = [key.split("#", 1)[1] for _, key, _ in found]
    lines = (REPLAYS / "sotm34_like.log").read_text(encoding="utf-8")
    sources = set(re.findall(r"for test from (\S+)", lines))
    assert len(sources) == 21 and len(networks) == 21  # two sessions per source, one alert each
    assert sorted(networks) == sorted(f"test|{'.'.join(ip.split('.')[:3])}.0/24" for ip in sources)


JITTER = 240  # seconds: under the engine's 5-minute lateness, so nothing is dropped as late


def jittered(items: list, times: list[float], rng: random.Random) -> list:
    """`items` reordered as a shipper or S3 delivery would: any two closer than JITTER may swap."""
    order = sorted(range(len(items)), key=lambda i: times[i] + rng.uniform(0, JITTER))
    return [items[i] for i in order]


def _shuffled_lines(path: Path, out: Path, seed: int) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()
    times = [datetime.strptime(f"2026 {ln[:15]}", "%Y %b %d %H:%M:%S").timestamp() for ln in lines]
    out.write_text("\n".join(jittered(lines, times, random.Random(seed))) + "\n", encoding="utf-8")
    return out


@pytest.mark.parametrize("name", ["ssh_travel.log", "sotm34_like.log"])
def test_ssh_replays_in_shuffled_order_give_the_same_alerts(name, tmp_path):
    expected = identity_alerts([REPLAYS / name])
    original = (REPLAYS / name).read_text(encoding="utf-8")
    moved = 0
    for seed in range(5):
        shuffled = _shuffled_lines(REPLAYS / name, tmp_path / f"{seed}-{name}", seed)
        moved += shuffled.read_text(encoding="utf-8") != original
        assert identity_alerts([shuffled]) == expected
    assert moved  # the jitter did reorder lines


def test_cloudtrail_records_in_shuffled_order_give_the_same_alerts(tmp_path):
    path = REPLAYS / "aws_console_bruteforce.json"
    expected = identity_alerts([path])
    records = json.loads(path.read_text(encoding="utf-8"))["Records"]
    times = [datetime.fromisoformat(r["eventTime"]).timestamp() for r in records]
    rng = random.Random(20)
    for seed in range(20):  # the order of records in an S3 delivery file is not event order
        out = tmp_path / f"{seed}.json"
        out.write_text(json.dumps({"Records": jittered(records, times, rng)}), encoding="utf-8")
        assert identity_alerts([out]) == expected


def test_benign_samples_raise_no_alert_from_the_new_identity_detectors(tmp_path):
    invictus = SHARED / "invictus_cloudtrail" / "invictus_aws_dataset_subset.ndjson"
    fail2ban = SHARED / "fail2ban_sshd_labelled"
    assert invictus.exists() and fail2ban.exists(), "the shared data folder must sit beside the repository"
    sshd_lines = tmp_path / "fail2ban.log"  # the labelled lines without their label comments
    sshd_lines.write_text(
        "".join(
            ln
            for p in sorted(fail2ban.glob("*.log"))
            for ln in p.read_text(encoding="utf-8").splitlines(keepends=True)
            if ln.strip() and not ln.startswith("#")
        ),
        encoding="utf-8",
    )
    ours = sorted(DATA.glob("normalizers/sshd/*.log")) + [DATA / "detectors" / "ssh_auth.log"]
    signins = Path(__file__).parents[4] / "examples" / "signin.jsonl"  # its app brute force is signin_*'s
    for paths, source, rules in (
        ([invictus], "cloudtrail", IDENTITY),
        ([sshd_lines], "sshd", IDENTITY),
        (ours, "sshd", NEW),
        ([signins], "app_signin", NEW),
    ):
        summary = embedded.run([str(p) for p in paths], SecmonSettings(), source=source)
        assert [a.message for a in summary.alerts.values() if a.rule.id in rules] == [], paths


def test_an_account_attacked_by_ever_new_ips_keeps_state_for_the_recent_ones_only():
    from detectors.engine import Engine
    from detectors.registry import DETECTORS

    det = DETECTORS["signin_bruteforce_ip"]
    engine = Engine(detectors=[(det, det.params())], store=DictStore(), strict=True)
    alerts = set()
    for hour in range(48):  # a new attacking IP every hour, for two days, on one account
        for n in range(5):
            event = signin(
                **{
                    "@timestamp": f"2026-11-{1 + hour // 24:02d}T{hour % 24:02d}:00:{n * 2:02d}+00:00",
                    "event.id": f"e{hour}-{n}",
                    "event.dataset": "aws.cloudtrail",
                    "event.action": "ConsoleLogin",
                    "cloud.account.id": "1234",
                    "source.ip": f"198.51.{hour}.7",
                }
            )
            alerts |= {a.alert.id for a in engine.process(event)}
        engine.tick(event.timestamp)
    assert len(alerts) == 48  # one per attacking IP
    assert len(engine.store) <= 2  # an IP idle for longer than the window (+ lateness) is dropped
