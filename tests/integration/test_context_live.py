"""Context update without restart, on the real broker and node.

A worker runs with a context directory (users, and a ticket table holding only an expired ticket).
A staff access with no valid ticket raises staff_access_without_justification. Then a ticket is
published with `secmon context load` to the compacted tickets topic while the worker keeps
running; the next access of the same employee to the same workspace is justified and raises
nothing. The context topics must have been created compacted.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from tests.integration.conftest import BOOTSTRAP, NOT_YET, consumed, count, wait_for

EMPLOYEE = "dana.support@ourco.example"
RULE = "staff_access_without_justification"


def access(at: datetime, ticket: str | None = None) -> str:
    """One staff access audit line: dana reads ws-acme documents."""
    record = {
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "employee": EMPLOYEE,
        "employee_id": "emp-0142",
        "workspace": "ws-acme",
        "resource": "workspace/documents",
        "action": "read",
        "record_count": 3,
        "source_ip": "198.51.100.77",
    }
    if ticket:
        record["ticket_id"] = ticket
    return json.dumps(record) + "\n"


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def topic_config(topic: str, name: str) -> str | None:
    """One config value of a topic (None until it propagated)."""
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP.split(","))
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return configs["topic"].get(topic, {}).get(name, {}).get("value")


def cleanup_policy(topic: str) -> str | None:
    return topic_config(topic, "cleanup.policy")


def staff_events(es, prefix: str) -> list[dict]:
    es.options(ignore_status=NOT_YET).indices.refresh(index=f"{prefix}-events-*")
    hits = es.options(ignore_status=NOT_YET).search(
        index=f"{prefix}-events-*",
        size=10,
        sort=[{"@timestamp": "asc"}],
        query={"term": {"event.dataset": "staff.access"}},
    )
    return [h["_source"] for h in hits.get("hits", {}).get("hits", [])]


def alerts(es, prefix: str) -> list[dict]:
    es.options(ignore_status=NOT_YET).indices.refresh(index=f"{prefix}-alerts-*")
    hits = es.options(ignore_status=NOT_YET).search(
        index=f"{prefix}-alerts-*", size=10, query={"term": {"rule.id": RULE}}
    )
    return [h["_source"] for h in hits.get("hits", {}).get("hits", [])]


def test_a_ticket_published_while_the_worker_runs_applies_without_restart(stack, es):
    started = time.monotonic()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    context_dir = stack.workdir / "context"
    context_dir.mkdir()
    (context_dir / "users.csv").write_text(
        f"id,name,employee,team,working_hours,timezone\nemp-0142,{EMPLOYEE},true,support,00:00-24:00,UTC\n"
    )
    (context_dir / "tickets.csv").write_text(
        "id,employee,workspace,valid_from,valid_to\n"
        f"SUP-OLD,{EMPLOYEE},ws-acme,{iso(now - timedelta(days=9))},"
        f"{iso(now - timedelta(days=8))}\n"
    )
    stack.start("worker", log_name="worker", env={"SECMON_ENRICH_CONTEXT_DIR": str(context_dir)})
    # the worker creates every topic first thing; the context ones compacted
    wait_for(
        lambda: cleanup_policy(f"{stack.prefix}-context-tickets") == "compact",
        timeout=180,  # the worker boots first: its imports alone take many seconds on a busy machine
        interval=0.5,
        what="the worker to create the tickets topic compacted",
    )

    before = stack.workdir / "before.jsonl"
    before.write_text(access(now - timedelta(seconds=60)))
    assert stack.secmon("ship", "--once", "--source", "staff_access", str(before)).returncode == 0
    raised = wait_for(lambda: alerts(es, stack.prefix), timeout=60, interval=0.5, what="the unjustified access alert")
    assert raised[0]["alert"]["dedup_key"] == f"{EMPLOYEE}|ws-acme"
    assert raised[0]["message"].endswith("with no valid ticket for that workspace (no ticket cited)")

    tickets = stack.workdir / "new-tickets.csv"
    tickets.write_text(
        "id,employee,workspace,valid_from,valid_to,summary\n"
        f"SUP-LIVE,{EMPLOYEE},ws-acme,{iso(now - timedelta(minutes=30))},{iso(now + timedelta(hours=2))},"
        "Customer cannot open a document\n"
    )
    loaded = stack.secmon("context", "load", str(tickets), "--table", "tickets")
    assert loaded.returncode == 0, loaded.stderr
    log = stack.workdir / "worker.log"
    wait_for(
        lambda: "context update: tickets upsert 1 " in log.read_text(errors="replace"),
        timeout=60,
        interval=0.2,
        what="the worker to apply the published ticket",
    )

    after = stack.workdir / "after.jsonl"
    after.write_text(access(now, ticket="SUP-LIVE"))
    assert stack.secmon("ship", "--once", "--source", "staff_access", str(after)).returncode == 0
    docs = wait_for(
        lambda: (d := staff_events(es, stack.prefix)) and len(d) == 2 and d,
        timeout=60,
        interval=0.5,
        what="both staff accesses indexed",
    )
    first, second = docs
    assert first["secmon"]["context"]["ticket_valid"] is False
    assert second["secmon"]["context"]["ticket_valid"] is True
    assert second["secmon"]["context"]["ticket_id"] == "SUP-LIVE"
    assert second["secmon"]["context"]["user_employee"] is True
    assert first["secmon"]["enrichment"][-1] != second["secmon"]["enrichment"][-1]  # the context version moved
    # every stage has committed all it read, the alerts indexer included: a (wrong) second finding
    # would be in the alerts index by now
    stages = [f"{stack.prefix}-{t}" for t in ("raw-staff_access", "events", "detect", "alerts")]
    wait_for(lambda: consumed(stack.prefix, stages), timeout=120, interval=0.5, what="every stage caught up")
    final = alerts(es, stack.prefix)
    assert len(final) == 1 and final[0]["alert"]["count"] == 1
    assert count(es, f"{stack.prefix}-events-*") == 2
    print(f"context update without restart: alert before, none after; {time.monotonic() - started:.1f}s")
