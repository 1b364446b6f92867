"""Workspace purge on the real node: 3 workspaces x 3k events over 3 daily indices (+ alerts); purge one.

Zero left for it, the others untouched, secmon's own control events kept, the receipt exact;
a purge that dies mid-way resumes under the same receipt; once done, running it again is a no-op.
The 3 x 50k version is `python -m bench.purge`.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from bench.purge import load
from detectors.engine import Engine
from detectors.state import DictStore
from pipeline.lifecycle.audit import session
from pipeline.lifecycle.purge import count_by_index, purge_workspace, workspace_query
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.control import parse as parse_control
from pipeline.settings import EsSettings, KafkaSettings, LifecycleSettings, SecmonSettings
from pipeline.sinks.elasticsearch import BulkSink, client
from schemas.event import Origin
from schemas.lifecycle import DeletionReceipt
from tests.factories import entity_record
from tests.integration.conftest import BOOTSTRAP, ES_URL, count
from tests.integration.test_deadletter import read_topic

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
REQUESTED = NOW - timedelta(hours=2)


def settings_for(prefix: str) -> SecmonSettings:
    """Settings of an isolated deployment on the shared services."""
    return SecmonSettings(
        es=EsSettings(url=ES_URL, index_prefix=prefix),
        kafka=KafkaSettings(bootstrap=BOOTSTRAP, topic_prefix=prefix),
        lifecycle=LifecycleSettings(snapshot_repository=f"{prefix}-repo", snapshot_location=prefix),
    )


def purge(settings: SecmonSettings, **kwargs):
    async def go():
        async with session(settings, "tester") as rec:
            return await purge_workspace(rec, settings.lifecycle, settings.es, "ws-b", **kwargs)

    return asyncio.run(go())


def counts(settings: SecmonSettings, workspace: str) -> dict[str, int]:
    async def go():
        async with client(settings.es) as es:
            return await count_by_index(es, f"{settings.es.index_prefix}-*", workspace_query(workspace))

    return asyncio.run(go())


def write_control_event(settings: SecmonSettings) -> None:
    """The customer system's own `deletion requested` event for ws-b: evidence, not customer data."""
    line = {
        "timestamp": REQUESTED.isoformat(),
        "kind": "deletion",
        "status": "requested",
        "job_id": "REQ-77",
        "workspace": "ws-b",
        "actor": "admin-console",
    }
    (event,) = parse_control(
        RawRecord(data=json.dumps(line).encode(), origin=Origin(source="control", file_id="c", offset=0)),
        ParseOptions(),
    )

    async def go():
        async with client(settings.es) as es:
            sink = BulkSink(es, settings.es)
            assert (await sink.write(sink.event_actions([event]), "event")).created == 1

    asyncio.run(go())


class Crash(Exception):
    """Stands for the process dying: nothing catches it."""


def crash(done: int, total: int) -> None:
    raise Crash(f"killed after {done} of {total}")


def test_purge_one_workspace_everywhere_resume_after_a_crash_then_no_op(stack, es):
    settings = settings_for(stack.prefix)
    assert asyncio.run(load(settings.es, per_workspace=3000, days=3, alerts=5)) == 9015
    write_control_event(settings)
    planned = counts(settings, "ws-b")
    assert sum(planned.values()) == 3005 and len(planned) == 6  # 3 event + 3 alert indices
    control_index = f"{stack.prefix}-events-control.events-*"

    published = []

    async def publish(state, receipt_id):  # the worker's side is test_forget_e2e.py
        published.append(state)
        return {"state_users": len(state.users)}

    with pytest.raises(Crash):
        purge(settings, now=NOW, requested_at=REQUESTED, progress=crash, batch=1000, before_delete=publish)
    alias = f"{stack.prefix}-receipts"
    es.indices.refresh(index=alias)
    (hit,) = es.search(index=alias, query={"term": {"workspace": "ws-b"}})["hits"]["hits"]
    interrupted = DeletionReceipt.model_validate(hit["_source"])
    assert (interrupted.status, interrupted.documents) == ("in_progress", 1000)

    result = purge(settings, now=NOW + timedelta(minutes=5))
    r = result.receipt
    assert r.receipt_id == interrupted.receipt_id and r.status == "completed" and r.operator == "tester"
    assert (r.requested_at, r.started_at) == (REQUESTED, NOW) and r.completed_at > NOW + timedelta(minutes=5)
    assert {c.index: c.documents for c in r.indices} == planned and r.documents == 3005 and r.remaining == 0
    assert counts(settings, "ws-b") == {} and sum(counts(settings, "ws-a").values()) == 3005
    assert sum(counts(settings, "ws-c").values()) == 3005
    assert count(es, control_index) == 1  # secmon's evidence of the request survives the purge
    stored = DeletionReceipt.model_validate(es.get(index=alias, id=r.receipt_id)["_source"])
    assert stored == r

    # what the worker must forget was read before the crashed run deleted anything: ws-b's alerts and users
    state = published[0]
    assert len(state.alert_ids) == 5 and r.state_alerts == 5 and r.state_users == 997
    assert len(state.users) == 997 and all(u.endswith("@ws-b.example") for u in state.users)
    store = DictStore()
    store.put("signin_bruteforce_user|user3@ws-b.example", entity_record([]))
    store.put("signin_bruteforce_user|user3@ws-a.example", entity_record([]))
    store.put("signin_bruteforce_ip|198.51.0.4", entity_record([], alert=sorted(state.alert_ids)[0]))
    Engine(detectors=[], store=store).forget("ws-b", alert_ids=state.alert_ids, entities={"user.name": state.users})
    assert list(store.keys()) == ["signin_bruteforce_user|user3@ws-a.example"]

    audit = f"{stack.prefix}-audit"
    es.indices.refresh(index=audit)
    audited = es.search(index=audit, query={"term": {"job_id": r.receipt_id}}, sort=["@timestamp"])["hits"]["hits"]
    assert [(h["_source"]["action"], h["_source"]["outcome"]) for h in audited] == [
        ("purge", "started"),
        ("purge", "success"),
    ]
    again = purge(settings, now=NOW + timedelta(days=1))
    assert again.noop and again.receipt.receipt_id == r.receipt_id
    es.indices.refresh(index=audit)
    assert es.count(index=audit)["count"] == 2

    events = read_topic(f"{stack.prefix}-raw-control", expected=2)
    assert [(e["kind"], e["status"]) for e in events] == [("deletion", "requested"), ("deletion", "completed")]
    assert events[1]["details"] == {"documents": 3005, "indices": 6} and events[1]["job_id"] == r.receipt_id
    for e in events:
        (ev,) = parse_control(
            RawRecord(data=json.dumps(e).encode(), origin=Origin(source="control", file_id="k", offset=0)),
            ParseOptions(),
        )
        assert ev.organization.id == "ws-b" and ev.secmon.control.requested_at == REQUESTED


def test_cli_dry_run_changes_nothing_and_a_finished_purge_is_a_no_op(stack, es):
    settings = settings_for(stack.prefix)
    asyncio.run(load(settings.es, per_workspace=200, days=1, alerts=1, workspaces=("ws-a", "ws-b")))
    dry = stack.secmon("purge", "--workspace", "ws-b", "--dry-run", "--operator", "tester")
    assert dry.returncode == 0, dry.stderr
    assert "ws-b: 201 documents in 2 indices" in dry.stdout
    assert sum(counts(settings, "ws-b").values()) == 201

    done = stack.secmon("purge", "--workspace", "ws-b", "--request-id", "REQ-9", "--operator", "tester")
    assert done.returncode == 0, done.stderr
    assert "completed, 201 documents deleted from 2 indices" in done.stdout
    again = stack.secmon("purge", "--workspace", "ws-b", "--request-id", "REQ-9")
    assert again.returncode == 0 and "nothing left" in again.stdout
    (receipt,) = set(re.findall(r"del-[0-9a-f]{24}", done.stdout))
    assert re.findall(r"del-[0-9a-f]{24}", again.stdout) == [receipt]  # same receipt, nothing new
    assert counts(settings, "ws-b") == {} and sum(counts(settings, "ws-a").values()) == 201
