"""The sign-in detectors in the Faust worker on the real broker and node, against the embedded runner.

Three sources are shipped: the example app sign-ins (a password spray, a success right after a
brute force, sign-ins without MFA), CloudTrail console logins (with and without MFA, one SAML)
and control events (a remote sign-out of all devices). Elasticsearch must end with exactly the
alerts the embedded runner raises for the same files: same ids, rules, entities, counts, messages.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline import embedded
from pipeline.settings import SecmonSettings
from tests.integration.conftest import NOT_YET, count, wait_for

ROOT = Path(__file__).parents[2]
NEW_RULES = {
    "signin_password_spray",
    "signin_success_after_failures",
    "signin_without_mfa",
    "cloud_console_login_without_mfa",
    "account_signout_all_devices",
}


def console_login(when: str, user: str, ip: str, mfa: str, saml: bool = False) -> dict:
    """One CloudTrail ConsoleLogin record as CloudTrail writes it."""
    identity = (
        {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE:{user}",
            "accountId": "111122223333",
            "arn": f"arn:aws:sts::111122223333:assumed-role/Admin/{user}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin"}},
        }
        if saml
        else {
            "type": "IAMUser",
            "principalId": f"AIDAEXAMPLE{user.upper()}",
            "accountId": "111122223333",
            "arn": f"arn:aws:iam::111122223333:user/{user}",
            "userName": user,
        }
    )
    extra = {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": mfa}
    if saml:
        extra["SamlProviderArn"] = "arn:aws:iam::111122223333:saml-provider/okta"
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": ip,
        "userAgent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": extra,
        "eventID": f"e-{user}-{when}",
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "111122223333",
    }


def write_inputs(workdir: Path) -> dict[str, Path]:
    """The three input files, keyed by source id."""
    signins = workdir / "signin.jsonl"
    shutil.copy(ROOT / "examples" / "signin.jsonl", signins)
    cloudtrail = workdir / "cloudtrail.jsonl"
    records = [
        console_login("2026-11-28T09:00:12Z", "alice", "198.51.100.23", "Yes"),
        console_login("2026-11-28T09:03:40Z", "bob", "203.0.113.77", "No"),
        console_login("2026-11-28T09:40:00Z", "bob", "203.0.113.77", "No"),
        console_login("2026-11-28T10:00:00Z", "carol", "192.0.2.8", "No", saml=True),
    ]
    cloudtrail.write_text("".join(json.dumps(r) + "\n" for r in records))
    control = workdir / "control.jsonl"
    control.write_text(
        '{"timestamp": "2026-11-30T02:41:17Z", "kind": "backup", "status": "succeeded", "job_id": "bk-1"}\n'
        '{"timestamp": "2026-11-30T11:47:21Z", "kind": "signout_all", "status": "executed", "job_id": "so-99120", '
        '"workspace": "ws-acme", "user": "carol@acme.example", "actor": "admin@acme.example", '
        '"reason": "laptop reported stolen"}\n'
    )
    return {"app_signin": signins, "cloudtrail": cloudtrail, "control": control}


def embedded_alerts(inputs: dict[str, Path]) -> dict[str, tuple]:
    """id -> (rule, dedup key, count, message) from the embedded runner, one run per source, its
    clock moved to now at the end, as the worker's wall-clock ticks move it (deadline detectors
    such as backup_missing then agree on any day this test runs)."""
    found = {}
    now = datetime.now(timezone.utc)
    for source, path in inputs.items():
        for alert in embedded.run([str(path)], SecmonSettings(), source=source, until=now).alerts.values():
            found[alert.alert.id] = (alert.rule.id, alert.alert.dedup_key, alert.alert.count, alert.message)
    return found


def indexed_alerts(es, index: str) -> dict[str, tuple]:
    """The same view of what the worker indexed."""
    es.options(ignore_status=NOT_YET).indices.refresh(index=index)
    hits = es.options(ignore_status=NOT_YET).search(index=index, size=500).get("hits", {}).get("hits", [])
    return {
        h["_id"]: (
            h["_source"]["rule"]["id"],
            h["_source"]["alert"]["dedup_key"],
            h["_source"]["alert"]["count"],
            h["_source"]["message"],
        )
        for h in hits
    }


def test_signin_detectors_raise_the_same_alerts_in_the_worker_as_embedded(stack, es):
    inputs = write_inputs(stack.workdir)
    expected = embedded_alerts(inputs)
    assert {rule for rule, *_ in expected.values()} >= NEW_RULES, "the inputs no longer exercise every new detector"

    assert stack.secmon("topics").returncode == 0
    for source, path in inputs.items():
        shipped = stack.secmon("ship", "--once", "--source", source, str(path))
        assert shipped.returncode == 0, shipped.stderr
    stack.start("worker", log_name="worker", env={"SECMON_DETECTION_TICK_SECONDS": "2"})

    total_events = 86 + 4 + 2
    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= total_events, timeout=180, what="all events indexed")
    alerts_index = f"{stack.prefix}-alerts-*"
    deadline = time.monotonic() + 120  # alerts are updated in place (count) until the last finding lands
    got = indexed_alerts(es, alerts_index)
    while got != expected and time.monotonic() < deadline:
        time.sleep(1)
        got = indexed_alerts(es, alerts_index)
    assert got == expected

    by_rule = {(rule, key): (n, message) for rule, key, n, message in got.values()}
    assert by_rule[("signin_password_spray", "45.155.205.233")][1].startswith("failed sign-ins for 10 distinct users")
    assert by_rule[("cloud_console_login_without_mfa", "111122223333|bob")][0] == 2
    assert not any(key.endswith("|carol") for rule, key in by_rule if rule == "cloud_console_login_without_mfa")
    assert (
        "admin@acme.example signed carol@acme.example out of all devices"
        in by_rule[("account_signout_all_devices", "carol@acme.example|ws-acme")][1]
    )
    print(
        f"{len(got)} alerts in Elasticsearch, identical to the embedded runner: "
        + ", ".join(sorted(f"{rule} {key} x{n}" for rule, key, n, _ in got.values()))
    )
