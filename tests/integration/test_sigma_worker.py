"""Sigma rules in the Faust worker on the real broker and node, against the embedded runner.

The 57 SigmaHQ CloudTrail rules and secmon's own correlation fixtures (a console brute force from one
IP, a password spray, key-then-policy in order) run in the worker over the Invictus CloudTrail sample
plus a burst of failed console logins. Elasticsearch must end with exactly the Sigma alerts the
embedded runner raises for the same file and configuration: same ids, rules, entities, counts,
messages, maturity; and the correlations fire on event time in the worker as they do embedded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from pipeline import embedded
from pipeline.settings import load_settings
from tests.integration.conftest import NOT_YET, count, wait_for

ROOT = Path(__file__).parents[2]
SHARED = ROOT.parent / "shared" / "data"
CLOUD_RULES = SHARED / "sigmahq_rules" / "rules" / "cloud"
OWN_RULES = ROOT / "tests" / "data" / "sigma" / "rules" / "cloudtrail_correlations.yml"
INVICTUS = SHARED / "invictus_cloudtrail" / "invictus_aws_dataset_subset.ndjson"
BRUTE_FORCE = "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d11"
SPRAY = "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d12"


def failed_console_login(second: int, user: str) -> dict:
    """A failed ConsoleLogin as CloudTrail writes it (an IAM user name that may not exist)."""
    when = f"2026-11-28T09:{second // 60:02d}:{second % 60:02d}Z"
    return {
        "eventVersion": "1.09",
        "eventTime": when,
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "185.220.101.47",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "accountId": "123837392027",
            "userName": user,
        },
        "errorMessage": "Failed authentication",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Failure"},
        "additionalEventData": {
            "LoginTo": "https://console.aws.amazon.com/console/home",
            "MobileVersion": "No",
            "MFAUsed": "No",
        },
        "eventID": f"bf-{second}-{user}",
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "123837392027",
    }


def write_inputs(workdir: Path) -> tuple[Path, Path]:
    """(config file, CloudTrail file): the shared sample, then six failures for three users in 50 s."""
    trail = workdir / "cloudtrail.jsonl"
    burst = [failed_console_login(10 * i, user) for i, user in enumerate(["admin", "root", "deploy"] * 2)]
    trail.write_text(INVICTUS.read_text() + "".join(json.dumps(r) + "\n" for r in burst))
    config = workdir / "secmon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "parse": {"keep_original": True},
                "detection": {"sigma": {"rules_dirs": [str(CLOUD_RULES), str(OWN_RULES)]}},
            }
        )
    )
    return config, trail


def sigma_view(alerts) -> dict[str, tuple]:
    return {
        a.alert.id: (a.rule.id, a.alert.dedup_key, a.alert.count, a.message, a.rule.maturity)
        for a in alerts
        if a.rule.ruleset == "sigma"
    }


def indexed_sigma_alerts(es, index: str) -> dict[str, tuple]:
    es.options(ignore_status=NOT_YET).indices.refresh(index=index)
    hits = (
        es.options(ignore_status=NOT_YET)
        .search(index=index, size=1000, query={"term": {"rule.ruleset": "sigma"}})
        .get("hits", {})
        .get("hits", [])
    )
    return {
        h["_id"]: (
            h["_source"]["rule"]["id"],
            h["_source"]["alert"]["dedup_key"],
            h["_source"]["alert"]["count"],
            h["_source"]["message"],
            h["_source"]["rule"].get("maturity"),
        )
        for h in hits
    }


def test_sigma_rules_raise_the_same_alerts_in_the_worker_as_embedded(stack, es):
    config, trail = write_inputs(stack.workdir)
    settings = load_settings(config)
    expected = sigma_view(embedded.run([str(trail)], settings, source="cloudtrail").alerts.values())
    rules = {rule for rule, *_ in expected.values()}
    assert {BRUTE_FORCE, SPRAY} <= rules, "the burst no longer fires the correlations"
    assert len(rules) >= 5, f"the shared sample fires too few SigmaHQ rules to compare: {sorted(rules)}"

    env = {"SECMON_CONFIG": str(config)}
    assert stack.secmon("topics", env=env).returncode == 0
    shipped = stack.secmon("ship", "--once", "--source", "cloudtrail", str(trail), env=env)
    assert shipped.returncode == 0, shipped.stderr
    stack.start("worker", log_name="worker", env={**env, "SECMON_DETECTION_TICK_SECONDS": "2"})

    total = sum(1 for line in trail.read_text().splitlines() if line.strip())
    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= total, timeout=180, what="all CloudTrail events indexed")
    alerts_index = f"{stack.prefix}-alerts-*"
    deadline = time.monotonic() + 120  # alerts are updated in place (count) until the last match lands
    got = indexed_sigma_alerts(es, alerts_index)
    while got != expected and time.monotonic() < deadline:
        time.sleep(1)
        got = indexed_sigma_alerts(es, alerts_index)
    assert got == expected

    by_rule = {rule: (key, n) for rule, key, n, _, _ in got.values()}
    assert by_rule[BRUTE_FORCE][0].endswith("185.220.101.47") and by_rule[BRUTE_FORCE][1] >= 1
    assert {maturity for *_, maturity in got.values()} >= {"experimental"}  # shadow rules indexed, never paged
    print(f"{len(got)} Sigma alerts of {len(rules)} rules in Elasticsearch, identical to the embedded runner")
