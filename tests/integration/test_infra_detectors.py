"""Infrastructure and compliance detectors in the Faust worker on the real broker and node.

Control events, CloudTrail, Zeek, web access logs, osquery and a Trivy report are shipped. The first
worker runs with a clock too slow to tick: it processes every event, so only event-driven alerts
exist, and it is SIGKILLed. The second worker ticks every 2 s on wall time: the deadline alerts
(backup missing, restore test overdue, deletion late...) can only come from the state it recovered
from the table changelog. Elasticsearch must end with exactly the alerts the embedded runner raises
when its clock is moved to now: same ids, rules, entities, statuses, counts and messages, so the
strict alerts index accepts the new entity fields (cloud.*, secmon.resource).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline import embedded
from pipeline.settings import SecmonSettings
from tests.integration.conftest import NOT_YET, consumed, count, wait_for

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "data" / "normalizers"
CONTROL = [  # one key per line where a clock matters, so wall-clock ticks cannot interleave with a key's events
    {"timestamp": "2026-08-01T06:52:40Z", "kind": "restore_test", "status": "succeeded", "job_id": "rt-2026-31"},
    {
        "timestamp": "2026-11-10T09:00:00Z",
        "kind": "deletion",
        "status": "requested",
        "job_id": "del-b",
        "workspace": "ws-b",
    },
    {
        "timestamp": "2026-11-15T03:15:00Z",
        "kind": "deletion",
        "status": "completed",
        "job_id": "del-b",
        "workspace": "ws-b",
        "requested_at": "2026-11-10T09:00:00Z",
    },
    {"timestamp": "2026-11-20T02:41:00Z", "kind": "backup", "status": "succeeded", "job_id": "bk-20261120-0200"},
    {
        "timestamp": "2026-11-20T09:00:00Z",
        "kind": "deletion",
        "status": "requested",
        "job_id": "del-a",
        "workspace": "ws-a",
    },
    {
        "timestamp": "2026-11-25T02:10:00Z",
        "kind": "backup",
        "status": "failed",
        "job_id": "nightly-es-20261125",
        "reason": "disk full",
    },
]
EVENT_DRIVEN = {
    "backup_failed",
    "cloud_sg_open_to_world",
    "cloud_logging_tampering",
    "tls_weak_protocol",
    "tls_weak_cipher",
    "laptop_noncompliant",
}
TIMED_ONLY = {"backup_missing", "restore_test_overdue"}  # raised by a tick only, in this input


def write_inputs(workdir: Path) -> dict[str, list[Path]]:
    """The input files, keyed by source id."""
    control = workdir / "control.jsonl"
    control.write_text("".join(json.dumps(line) + "\n" for line in CONTROL))
    copies = {
        "cloudtrail": ["cloudtrail/security_groups.jsonl", "cloudtrail/tampering.jsonl"],
        "zeek_ssl": ["zeek_ssl/ssl_tsv.log"],
        "web_access": ["web_access/secmon_tls.log"],
        "osquery": ["osquery/osqueryd.results.log"],
        "trivy": ["trivy/image-debian.json"],
    }
    inputs: dict[str, list[Path]] = {"control": [control]}
    for source, names in copies.items():
        inputs[source] = [Path(shutil.copy(GOLDEN / name, workdir / Path(name).name)) for name in names]
    return inputs


def embedded_alerts(inputs: dict[str, list[Path]], until: datetime) -> dict[str, tuple]:
    """id -> (rule, dedup key, status, count, message) from the embedded runner, clock moved to `until`."""
    found = {}
    for source, paths in inputs.items():
        for alert in embedded.run(
            [str(p) for p in paths], SecmonSettings(), source=source, until=until
        ).alerts.values():
            found[alert.alert.id] = (
                alert.rule.id,
                alert.alert.dedup_key,
                alert.alert.status,
                alert.alert.count,
                alert.message,
            )
    return found


def indexed_alerts(es, index: str) -> dict[str, tuple]:
    """The same view of what the worker indexed."""
    es.options(ignore_status=NOT_YET).indices.refresh(index=index)
    hits = es.options(ignore_status=NOT_YET).search(index=index, size=500).get("hits", {}).get("hits", [])
    return {
        h["_id"]: (
            h["_source"]["rule"]["id"],
            h["_source"]["alert"]["dedup_key"],
            h["_source"]["alert"]["status"],
            h["_source"]["alert"]["count"],
            h["_source"]["message"],
        )
        for h in hits
    }


def test_timed_detectors_resume_from_the_changelog_and_match_the_embedded_runner(stack, es):
    inputs = write_inputs(stack.workdir)
    assert stack.secmon("topics").returncode == 0
    for source, paths in inputs.items():
        shipped = stack.secmon("ship", "--once", "--source", source, *map(str, paths))
        assert shipped.returncode == 0, shipped.stderr
    total = sum(
        embedded.run([str(p) for p in paths], SecmonSettings(), source=source).events
        for source, paths in inputs.items()
    )

    alerts_index = f"{stack.prefix}-alerts-*"
    first = stack.start("worker", log_name="worker-1", env={"SECMON_DETECTION_TICK_SECONDS": "3600"})
    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= total, timeout=240, what=f"{total} events indexed")
    wait_for(
        lambda: {r for r, *_ in indexed_alerts(es, alerts_index).values()} >= EVENT_DRIVEN,
        timeout=120,
        what="the event-driven alerts",
    )
    # the worker commits its offsets only after flushing its producer: once every stage has committed
    # all it read, the table changelog holds the state of every event (what the restart recovers)
    stages = [f"{stack.prefix}-raw-{source}" for source in inputs] + [
        f"{stack.prefix}-{t}" for t in ("events", "detect", "alerts")
    ]
    wait_for(lambda: consumed(stack.prefix, stages), timeout=120, interval=0.5, what="offsets committed")
    before = {rule for rule, *_ in indexed_alerts(es, alerts_index).values()}
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not before & TIMED_ONLY, "a deadline alert before any tick: the restart would prove nothing"

    stack.start("worker", log_name="worker-2", env={"SECMON_DETECTION_TICK_SECONDS": "2"})
    wait_for(
        lambda: {r for r, *_ in indexed_alerts(es, alerts_index).values()} >= TIMED_ONLY,
        timeout=180,
        what="deadline alerts from the recovered state",
    )
    expected = embedded_alerts(inputs, until=datetime.now(timezone.utc))
    deadline = time.monotonic() + 60
    got = indexed_alerts(es, alerts_index)
    while got != expected and time.monotonic() < deadline:
        time.sleep(1)
        got = indexed_alerts(es, alerts_index)
    assert got == expected

    by_rule = {(rule, key): (status, message) for rule, key, status, _, message in got.values()}
    assert by_rule[("backup_missing", "bk")][1].startswith("no successful backup of job bk by 2026-11-21T04:41Z")
    assert by_rule[("deletion_sla_breach", "ws-b")][0] == "resolved"
    doc = es.search(index=alerts_index, query={"term": {"rule.id": "cloud_sg_open_to_world"}}, size=5)["hits"]["hits"]
    assert {h["_source"]["secmon"]["resource"]["type"] for h in doc} == {"security_group"}
    print(
        f"{len(got)} alerts in Elasticsearch, identical to the embedded runner: "
        + ", ".join(sorted(f"{rule} {key} {status} x{n}" for rule, key, status, n, _ in got.values()))
    )
