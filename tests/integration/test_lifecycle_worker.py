"""The worker's side of the data lifecycle, on the real broker and node.

One worker runs with the lifecycle schedule on (checked every second):
- it deletes an expired daily index, takes a backup (then prunes) and runs a restore test by
  itself, each on the audit trail under the operator `secmon-worker`;
- `secmon purge --workspace ws-b` makes it forget ws-b: every detector state entry of ws-b's
  users is deleted from the Faust table (tombstones on the changelog, on every partition they
  live on) while ws-a's stay, and ws-b's customer users and tickets are tombstoned in the
  compacted context topics while ws-a's rows and our employee's stay.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from kafka import KafkaConsumer

from tests.integration.conftest import BOOTSTRAP, NOT_YET, count, wait_for
from tests.integration.test_context_live import topic_config
from tests.integration.test_lifecycle_backup import deployment  # noqa: F401 - fixture: own repository, removed after

USERS = {"ws-a": ["amy@a.example", "al@a.example"], "ws-b": ["bob@b.example", "bea@b.example", "ben@b.example"]}


def signins(now: datetime) -> str:
    lines = []
    for n, (ws, users) in enumerate(sorted(USERS.items())):
        for i, user in enumerate(users):
            at = (now - timedelta(minutes=30 - i - 5 * n)).isoformat().replace("+00:00", "Z")
            for outcome in ("failure", "success"):
                lines.append(
                    json.dumps(
                        {
                            "timestamp": at,
                            "user": user,
                            "user_id": f"id-{user}",
                            "workspace": ws,
                            "outcome": outcome,
                            "source_ip": f"81.2.69.{10 + i + 5 * n}",
                            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                            "auth_method": "password",
                            "mfa_used": True,
                        }
                    )
                )
    return "\n".join(lines) + "\n"


def final_rows(topic: str) -> dict[str, bytes | None]:
    """Latest value per key of a topic read from the start (None: tombstone)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    rows = {m.key.decode(): m.value for m in consumer}
    consumer.close()
    return rows


def state_users(prefix: str) -> dict[str, set[str]]:
    """Users with live detector state in the worker's table, by workspace (from its changelog)."""
    rows = final_rows(f"{prefix}-secmon-detector-state-changelog")
    live = {json.loads(k).split("|", 1)[1] for k, v in rows.items() if v is not None and json.loads(v) is not None}
    return {ws: live & set(users) for ws, users in USERS.items()}


def audit(es, prefix: str, action: str, outcome: str) -> list[dict]:
    es.options(ignore_status=NOT_YET).indices.refresh(index=f"{prefix}-audit")
    resp = es.options(ignore_status=NOT_YET).search(
        index=f"{prefix}-audit",
        size=20,
        query={"bool": {"filter": [{"term": {"action": action}}, {"term": {"outcome": outcome}}]}},
    )
    return [h["_source"] for h in resp.get("hits", {}).get("hits", [])]


def test_the_worker_runs_the_schedule_and_forgets_a_purged_workspace(stack, es, deployment):  # noqa: F811
    lc, now = deployment.lifecycle, datetime.now(timezone.utc).replace(microsecond=0)
    users = stack.workdir / "users.csv"
    users.write_text(
        "id,name,team,employee\n"
        + "".join(f"id-{u},{u},{ws},false\n" for ws, us in sorted(USERS.items()) for u in us)
        + "emp-1,sam@corp.example,ws-b,true\n"
    )
    tickets = stack.workdir / "tickets.csv"
    tickets.write_text(
        "id,employee,workspace,valid_from,valid_to\n"
        f"SUP-A,sam@corp.example,ws-a,{now.isoformat()},{(now + timedelta(days=1)).isoformat()}\n"
        f"SUP-B,sam@corp.example,ws-b,{now.isoformat()},{(now + timedelta(days=1)).isoformat()}\n"
    )
    for path, table in ((users, "users"), (tickets, "tickets")):
        assert (loaded := stack.secmon("context", "load", str(path), "--table", table)).returncode == 0, loaded.stderr
    expired = f"{stack.prefix}-events-app.signin-2020.01.01"  # default retention: 365 days
    es.indices.create(index=expired)

    repo = {
        "SECMON_LIFECYCLE_SNAPSHOT_REPOSITORY": lc.snapshot_repository,
        "SECMON_LIFECYCLE_SNAPSHOT_LOCATION": lc.snapshot_location,
        "SECMON_LIFECYCLE_FORGET_KEY": "shared-secret-of-this-deployment",
    }
    stack.start(
        "worker",
        log_name="worker",
        env={"SECMON_LIFECYCLE_SCHEDULE": "true", "SECMON_LIFECYCLE_SCHEDULE_CHECK_SECONDS": "1", **repo},
    )
    # data topics expire within the policy's 24 h; forget requests outlive a week-long worker outage
    assert topic_config(f"{stack.prefix}-detect", "retention.ms") == str(24 * 3600 * 1000)
    assert topic_config(f"{stack.prefix}-purge", "retention.ms") == str(7 * 24 * 3600 * 1000)
    assert topic_config(f"{stack.prefix}-detect", "segment.ms") == str(3600 * 1000)
    events = stack.workdir / "signin.jsonl"
    events.write_text(signins(now))
    assert stack.secmon("ship", "--once", "--source", "app_signin", str(events)).returncode == 0
    wait_for(
        lambda: count(es, f"{stack.prefix}-events-app.signin-*") == 10,
        timeout=90,
        interval=0.5,
        what="10 sign-ins indexed",
    )
    wait_for(
        lambda: state_users(stack.prefix) == {ws: set(us) for ws, us in USERS.items()},
        timeout=60,
        what="detector state of every user on the changelog",
    )

    # the schedule: retention, then a backup (+ prune), then a restore test, by the worker alone
    deleted = wait_for(
        lambda: audit(es, stack.prefix, "retention_delete", "success"), timeout=60, what="the worker's retention run"
    )
    assert [(r["target"], r["operator"]) for r in deleted] == [(expired, "secmon-worker")]
    assert not es.indices.exists(index=expired)
    (backup,) = wait_for(lambda: audit(es, stack.prefix, "backup", "success"), timeout=120, what="the worker's backup")
    (tested,) = wait_for(
        lambda: audit(es, stack.prefix, "restore_test", "success"), timeout=120, what="the worker's restore test"
    )
    assert backup["operator"] == tested["operator"] == "secmon-worker"
    assert tested["control"]["backup_id"] == backup["control"]["backup_id"]

    purged = stack.secmon("purge", "--workspace", "ws-b", "--yes", "--operator", "dpo", env=repo)
    assert purged.returncode == 0, purged.stderr
    assert "workers asked to forget" in purged.stdout and "4 context rows tombstoned" in purged.stdout
    log = stack.workdir / "worker.log"

    def forgotten_on() -> set[str]:
        return set(
            re.findall(r"detector state entries of workspace ws-b on partition (\d+)", log.read_text(errors="replace"))
        )

    wait_for(
        lambda: forgotten_on() == {"0", "1", "2", "3"},
        timeout=60,
        interval=0.5,
        what="the forget request applied on all 4 detect partitions",
    )
    # the changelog is compacted within the 24 h promise, so forgotten values leave the broker too
    changelog = f"{stack.prefix}-secmon-detector-state-changelog"
    assert topic_config(changelog, "max.compaction.lag.ms") == str(12 * 3600 * 1000)
    wait_for(
        lambda: state_users(stack.prefix) == {"ws-a": set(USERS["ws-a"]), "ws-b": set()},
        timeout=30,
        what="ws-b's state entries tombstoned on the changelog, ws-a's kept",
    )

    rows = {t: final_rows(f"{stack.prefix}-context-{t}") for t in ("users", "tickets")}
    assert {k for k, v in rows["users"].items() if v is not None} == {"id-amy@a.example", "id-al@a.example", "emp-1"}
    assert {k for k, v in rows["tickets"].items() if v is not None} == {"SUP-A"}
    wait_for(
        lambda: "users delete 3" in log.read_text(errors="replace"),
        timeout=30,
        interval=0.5,
        what="the worker to apply the context tombstones",
    )
    assert "bob@b.example" not in log.read_text(errors="replace")  # counts in the log, never the purged names
    es.indices.refresh(index=f"{stack.prefix}-receipts")
    (receipt,) = [h["_source"] for h in es.search(index=f"{stack.prefix}-receipts")["hits"]["hits"]]
    assert (receipt["status"], receipt["documents"], receipt["state_users"]) == ("completed", 6, 3)
    assert (receipt["forget_parts"], receipt["context_rows"], receipt["context_file_rows"]) == (1, 4, 0)
    assert receipt["snapshots_with_data"] == [backup["control"]["backup_id"]]  # the worker's backup still holds ws-b
