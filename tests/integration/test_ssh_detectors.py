"""The SSH detectors in the Faust worker on the real broker and node, against the embedded runner.

The sample auth.log (brute force, enumeration, root login, 2FA sessions, one key-only session) is
shipped to Kafka; Elasticsearch must end with exactly the alerts the embedded runner raises: same
ids, rules, entities, counts, messages. The key-only session alerts only through the worker's
wall-clock tick (nothing else happens for its key), so this also checks live timers.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pipeline import embedded
from pipeline.settings import SecmonSettings
from tests.integration.conftest import NOT_YET, count, wait_for

LOG = Path(__file__).parents[1] / "data" / "detectors" / "ssh_auth.log"
SSH_RULES = {"signin_bruteforce_ip", "ssh_login_without_2fa", "ssh_root_login", "ssh_user_enumeration"}


def alert_view(rule: str, key: str, n: int, message: str, first_seen: str) -> tuple:
    """What must agree between the runtimes (first_seen as the instant, whatever its text form)."""
    return rule, key, n, message, first_seen.replace("+00:00", "Z")


def embedded_alerts(path: Path) -> dict[str, tuple]:
    """id -> alert view from the embedded runner."""
    alerts = embedded.run([str(path)], SecmonSettings(), source="sshd").alerts.values()
    return {
        a.alert.id: alert_view(
            a.rule.id, a.alert.dedup_key, a.alert.count, a.message, a.to_doc()["alert"]["first_seen"]
        )
        for a in alerts
    }


def indexed_alerts(es, index: str) -> dict[str, tuple]:
    """The same view of what the worker indexed."""
    es.options(ignore_status=NOT_YET).indices.refresh(index=index)
    hits = es.options(ignore_status=NOT_YET).search(index=index, size=500).get("hits", {}).get("hits", [])
    return {
        h["_id"]: alert_view(
            h["_source"]["rule"]["id"],
            h["_source"]["alert"]["dedup_key"],
            h["_source"]["alert"]["count"],
            h["_source"]["message"],
            h["_source"]["alert"]["first_seen"],
        )
        for h in hits
    }


def test_ssh_detectors_raise_the_same_alerts_in_the_worker_as_embedded(stack, es):
    path = stack.workdir / "secure"  # not *.log: the fixture prints those as process logs
    shutil.copy(LOG, path)
    expected = embedded_alerts(path)
    assert {rule for rule, *_ in expected.values()} == SSH_RULES, "the sample no longer exercises every SSH detector"

    assert stack.secmon("topics").returncode == 0
    shipped = stack.secmon("ship", "--once", "--source", "sshd", str(path))
    assert shipped.returncode == 0, shipped.stderr
    stack.start("worker", log_name="worker", env={"SECMON_DETECTION_TICK_SECONDS": "2"})

    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= 44, timeout=180, what="all 44 sshd events indexed")
    alerts_index = f"{stack.prefix}-alerts-*"
    deadline = time.monotonic() + 120  # the key-only session needs a tick after its events were processed
    got = indexed_alerts(es, alerts_index)
    while got != expected and time.monotonic() < deadline:
        time.sleep(1)
        got = indexed_alerts(es, alerts_index)
    assert got == expected
    time.sleep(5)  # more ticks must not add or change anything (a timer finding is raised once)
    assert indexed_alerts(es, alerts_index) == expected
    print(
        f"{len(got)} alerts in Elasticsearch, identical to the embedded runner: "
        + ", ".join(sorted(f"{rule} {key} x{n}" for rule, key, n, *_ in got.values()))
    )
