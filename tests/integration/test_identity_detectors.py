"""The identity detectors over SSH and CloudTrail logins in the Faust worker on the real broker and
node: the attack replays raise in Elasticsearch exactly the alerts the embedded runner raises
(their keys depend on parameters, `Detector.key_with`, so routing and detection must agree)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pipeline import embedded
from pipeline.settings import SecmonSettings
from tests.integration.conftest import NOT_YET, count, wait_for

REPLAYS = Path(__file__).parents[1] / "data" / "detectors" / "identity"
RULES = {
    "signin_bruteforce_ip",
    "signin_bruteforce_user",
    "signin_success_after_failures",
    "ssh_impossible_travel",
    "ssh_new_source",
}


def view(rule: str, key: str, n: int, message: str, first_seen: str) -> tuple:
    return rule, key, n, message, first_seen.replace("+00:00", "Z")


def embedded_alerts(paths: list[tuple[Path, str]]) -> dict[str, tuple]:
    found = {}
    for path, source in paths:
        for a in embedded.run([str(path)], SecmonSettings(), source=source).alerts.values():
            if a.rule.id in RULES:
                found[a.alert.id] = view(
                    a.rule.id, a.alert.dedup_key, a.alert.count, a.message, a.to_doc()["alert"]["first_seen"]
                )
    return found


def indexed_alerts(es, index: str) -> dict[str, tuple]:
    es.options(ignore_status=NOT_YET).indices.refresh(index=index)
    hits = es.options(ignore_status=NOT_YET).search(index=index, size=500).get("hits", {}).get("hits", [])
    return {
        h["_id"]: view(
            s["rule"]["id"], s["alert"]["dedup_key"], s["alert"]["count"], s["message"], s["alert"]["first_seen"]
        )
        for h in hits
        if (s := h["_source"])["rule"]["id"] in RULES
    }


def test_identity_detectors_raise_the_same_alerts_in_the_worker_as_embedded(stack, es):
    ssh = stack.workdir / "secure"  # not *.log: the fixture prints those as process logs
    trail = stack.workdir / "trail.json"
    shutil.copy(REPLAYS / "ssh_travel.log", ssh)
    shutil.copy(REPLAYS / "aws_console_bruteforce.json", trail)
    expected = embedded_alerts([(ssh, "sshd"), (trail, "cloudtrail")])
    assert {rule for rule, *_ in expected.values()} == {
        "signin_bruteforce_ip",
        "signin_success_after_failures",
        "ssh_impossible_travel",
    }

    assert stack.secmon("topics").returncode == 0
    for path, source in ((ssh, "sshd"), (trail, "cloudtrail")):
        shipped = stack.secmon("ship", "--once", "--source", source, str(path))
        assert shipped.returncode == 0, shipped.stderr
    # the detect topic's form before bundles (what a rolling upgrade runs): written and read as before
    stack.start("worker", log_name="worker", env={"SECMON_DETECTION_DETECT_BUNDLES": "false"})

    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= 17, timeout=180, what="all 17 events indexed")
    alerts_index = f"{stack.prefix}-alerts-*"
    deadline = time.monotonic() + 120
    got = indexed_alerts(es, alerts_index)
    while got != expected and time.monotonic() < deadline:
        time.sleep(1)
        got = indexed_alerts(es, alerts_index)
    assert got == expected
