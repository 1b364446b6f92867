"""Backups on the real node with a fake clock: backup -> verify (restore + compare) -> prune after
14 days; a legal hold keeps a snapshot past 14 days and closing it lets prune remove it. Every
step's control event reaches Kafka in the shape the control normalizer reads, and prune's
`backup deleted` lets backup_purge_overdue see a purged workspace leave the backups."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.es_ingest import make_events
from bench.purge import load
from detectors.clock import EventClock
from detectors.engine import Engine
from detectors.rules import backup_purge_overdue
from detectors.state import DictStore
from pipeline.lifecycle.audit import session
from pipeline.lifecycle.holds import close_hold, open_hold
from pipeline.lifecycle.prune import deleted_event, prune
from pipeline.lifecycle.purge import purge_workspace
from pipeline.lifecycle.restore_test import verify
from pipeline.lifecycle.snapshots import list_snapshots, run_backup
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.control import parse as parse_control
from pipeline.settings import SecmonSettings
from pipeline.sinks.elasticsearch import BulkSink, client
from schemas.alert import Alert
from schemas.event import Event, Origin
from tests.integration.conftest import free_port
from tests.integration.test_deadletter import read_topic
from tests.integration.test_lifecycle_purge import settings_for

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def deployment(stack, es) -> Iterator[SecmonSettings]:
    """Settings with a snapshot repository of the test's own, removed afterwards with its files."""
    settings = settings_for(stack.prefix)
    yield settings
    repo = settings.lifecycle.snapshot_repository
    found = es.options(ignore_status=404).snapshot.get(repository=repo, snapshot="*")
    for snap in found.get("snapshots", []):
        es.options(ignore_status=404).snapshot.delete(repository=repo, snapshot=snap["snapshot"])
    es.options(ignore_status=404).snapshot.delete_repository(name=repo)
    for node in es.nodes.info(metric="settings")["nodes"].values():
        for root in node["settings"].get("path", {}).get("repo", []):
            shutil.rmtree(Path(root) / settings.lifecycle.snapshot_location, ignore_errors=True)


def run(settings: SecmonSettings, step):
    """Run `step(rec)` in a lifecycle session (the CLI's)."""

    async def go():
        async with session(settings, "tester") as rec:
            return await step(rec)

    return asyncio.run(go())


def control_events(prefix: str, expected: int) -> list[tuple[str, str]]:
    """Sorted (kind, status) of the control events on the raw topic; each is valid for the normalizer, and
    each job's events are in order (they share a key, hence a partition; jobs interleave across partitions)."""
    events = read_topic(f"{prefix}-raw-control", expected=expected)
    assert len(events) == expected
    by_job: dict[str, list[str]] = {}
    for e in events:
        normalize(e)
        by_job.setdefault(e["job_id"], []).append(e["status"])
    for statuses in by_job.values():
        assert statuses[1:] == [] or statuses[0] in ("started", "requested", "opened"), statuses
    return sorted((e["kind"], e["status"]) for e in events)


def normalize(line: dict) -> Event:
    """The event the control normalizer makes of one control event."""
    (event,) = parse_control(
        RawRecord(data=json.dumps(line).encode(), origin=Origin(source="control", file_id="t", offset=0)),
        ParseOptions(),
    )
    return event


def purge_alerts(events: list[Event], until: datetime) -> list[Alert]:
    """The final backup_purge_overdue alerts of the events replayed in time order, ticked hourly to `until`."""
    engine = Engine(
        detectors=[(backup_purge_overdue.DETECTOR, backup_purge_overdue.Params())], store=DictStore(), strict=True
    )
    clock = EventClock(engine, every=timedelta(hours=1))
    alerts: dict[str, Alert] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        for alert in engine.process(event) + clock.observe(event.timestamp):
            alerts[alert.alert.id] = alert
    for alert in clock.finish(until):
        alerts[alert.alert.id] = alert
    return list(alerts.values())


def add_event_to_an_existing_index(settings: SecmonSettings) -> None:
    (event,) = make_events(1, ("ws-a",), days=1, file_id="late-arrival")

    async def go():
        async with client(settings.es) as es:
            sink = BulkSink(es, settings.es)
            assert (await sink.write(sink.event_actions([event]), "event")).created == 1

    asyncio.run(go())


def test_backup_verify_prune_cycle_with_a_fake_clock(deployment, es):
    s, lc = deployment, deployment.lifecycle
    asyncio.run(load(s.es, per_workspace=100, days=2, alerts=2, workspaces=("ws-a", "ws-b")))

    none = run(s, lambda rec: verify(rec, lc, now=T0 - timedelta(hours=1)))
    assert not none.ok and "run `secmon backup run` first" in none.reason

    first = run(s, lambda rec: run_backup(rec, lc, now=T0))
    assert first.ok and first.snapshot == f"{s.es.index_prefix}-2026.12.01-020000"
    assert first.indices >= 4 and first.documents >= 204

    add_event_to_an_existing_index(s)  # the live index moves on after the backup
    checked = run(s, lambda rec: verify(rec, lc, now=T0 + timedelta(hours=1)))
    assert checked.ok, checked
    assert checked.snapshot == first.snapshot and checked.documents >= 204
    written_since = [c.index for c in checked.indices if not c.unchanged]
    assert written_since and all(c.restored == c.live for c in checked.indices if c.unchanged)
    assert checked.sampled == min(lc.restore_sample, checked.documents) and checked.matched > 0
    assert not checked.mismatched
    assert not es.indices.get(index=f"{s.es.index_prefix}-restoretest-*")  # the restored copy is gone

    second = run(s, lambda rec: run_backup(rec, lc, now=T0 + timedelta(days=3)))
    assert second.ok
    pruned = run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=15)))
    assert [(d.snapshot.name, d.action) for d in pruned] == [(first.snapshot, "delete"), (second.snapshot, "keep")]
    left = run(s, lambda rec: list_snapshots(rec.es, lc, rec.names))
    assert [snap.name for snap in left] == [second.snapshot]

    purged = run(s, lambda rec: purge_workspace(rec, lc, s.es, "ws-b", now=T0 + timedelta(days=15)))
    assert purged.receipt.snapshots_with_data == [second.snapshot] and not purged.receipt.snapshots_held
    assert purged.receipt.snapshots_expire_by == T0 + timedelta(days=3 + 14)  # when the backups forget ws-b

    assert control_events(s.es.index_prefix, expected=10) == sorted(
        [
            ("restore_test", "failed"),
            ("backup", "started"),
            ("backup", "succeeded"),
            ("restore_test", "started"),
            ("restore_test", "succeeded"),
            ("backup", "started"),
            ("backup", "succeeded"),
            ("backup", "deleted"),
            ("deletion", "requested"),
            ("deletion", "completed"),
        ]
    )


def test_a_legal_hold_keeps_a_snapshot_past_14_days_and_closing_it_lets_prune_remove_it(deployment, es, stack):
    s, lc = deployment, deployment.lifecycle
    asyncio.run(load(s.es, per_workspace=50, days=1, alerts=1, workspaces=("ws-a",)))
    snap = run(s, lambda rec: run_backup(rec, lc, now=T0)).snapshot

    hold, changed = run(
        s,
        lambda rec: open_hold(
            rec, incident_id="INC-7", reason="breach investigation", patterns=None, now=T0 + timedelta(days=1)
        ),
    )
    assert changed and hold.indices == [f"{s.es.index_prefix}-*"] and hold.opened_by == "tester"
    listed = stack.secmon("hold", "list")
    assert listed.returncode == 0 and "INC-7" in listed.stdout and "breach investigation" in listed.stdout

    kept = run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=20)))
    assert [(d.snapshot.name, d.action, d.holds) for d in kept] == [(snap, "hold", ("INC-7",))]
    purged = run(s, lambda rec: purge_workspace(rec, lc, s.es, "ws-a", now=T0 + timedelta(days=20)))
    assert purged.receipt.snapshots_held == ["INC-7"] and purged.receipt.snapshots_expire_by is None

    closed, changed = run(
        s, lambda rec: close_hold(rec, incident_id="INC-7", reason="case closed", now=T0 + timedelta(days=21))
    )
    assert changed and closed.status == "closed" and closed.closed_by == "tester"
    pruned = run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=21)))
    assert [(d.snapshot.name, d.action) for d in pruned] == [(snap, "delete")]
    assert run(s, lambda rec: list_snapshots(rec.es, lc, rec.names)) == []

    audit = f"{s.es.index_prefix}-audit"
    es.indices.refresh(index=audit)
    actions = [
        (h["_source"]["action"], h["_source"]["outcome"], h["_source"]["hold_ids"])
        for h in es.search(index=audit, query={"term": {"target": snap}}, sort=["@timestamp"])["hits"]["hits"]
    ]
    assert ("snapshot_hold", "kept", ["INC-7"]) in actions and ("snapshot_delete", "success", []) in actions
    assert control_events(s.es.index_prefix, expected=7) == sorted(
        [
            ("backup", "started"),
            ("backup", "succeeded"),
            ("legal_hold", "opened"),
            ("deletion", "requested"),
            ("deletion", "completed"),
            ("legal_hold", "closed"),
            ("backup", "deleted"),
        ]
    )


def test_a_backup_that_cannot_start_is_a_failed_backup_with_the_reason(deployment):
    s = deployment
    s.lifecycle.snapshot_location = "/not/under/path.repo"  # the node refuses to register it
    failed = run(s, lambda rec: run_backup(rec, s.lifecycle, now=T0))
    assert not failed.ok and "path.repo" in failed.reason
    assert control_events(s.es.index_prefix, expected=1) == [("backup", "failed")]


def test_prune_reports_each_deleted_snapshot_so_the_purge_detector_sees_a_workspace_leave_the_backups(deployment):
    s, lc = deployment, deployment.lifecycle
    asyncio.run(load(s.es, per_workspace=20, days=1, alerts=1, workspaces=("ws-a", "ws-b")))
    holding = run(s, lambda rec: run_backup(rec, lc, now=T0)).snapshot
    run(s, lambda rec: purge_workspace(rec, lc, s.es, "ws-b", now=T0 + timedelta(days=1)))
    later = run(s, lambda rec: run_backup(rec, lc, now=T0 + timedelta(days=2))).snapshot  # without ws-b
    pruned = run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=14, hours=12)))
    assert [(d.snapshot.name, d.action) for d in pruned] == [(holding, "delete"), (later, "keep")]

    lines = read_topic(f"{s.es.index_prefix}-raw-control", expected=7)
    (deleted,) = [line for line in lines if line["status"] == "deleted"]
    indices = deleted["details"].pop("indices")
    assert indices > 0 and deleted == {
        "timestamp": "2026-12-15T14:00:00Z",
        "kind": "backup",
        "status": "deleted",
        "job_id": f"backup-{holding}",
        "user": "tester",
        "actor": "secmon-lifecycle",
        "backup_id": holding,
        "details": {"snapshot": holding, "taken_at": "2026-12-01T02:00:00Z"},
    }
    events = [normalize(line) for line in lines]
    assert normalize(deleted).secmon.control.backup_id == holding
    (completed,) = [e.timestamp for e in events if e.event.action == "deletion_completed"]

    # pruned before the deadline (deletion + 14 days): nothing to say, although `later` is never pruned
    assert purge_alerts(events, until=T0 + timedelta(days=40)) == []
    # had prune not reported it, the snapshot would still hold ws-b at the deadline
    (overdue,) = purge_alerts([e for e in events if e.event.action != "backup_deleted"], until=T0 + timedelta(days=40))
    assert overdue.alert.status == "open" and overdue.alert.first_seen == completed + timedelta(days=14)
    assert f"workspace ws-b, deleted 2026-12-02T02:00Z: snapshot {holding} still present" in overdue.message


def test_a_deletion_a_dead_prune_did_not_record_is_recorded_and_announced_by_the_next_prune(deployment, es):
    s, lc = deployment, deployment.lifecycle
    asyncio.run(load(s.es, per_workspace=5, days=1, alerts=0, workspaces=("ws-a",)))
    name = run(s, lambda rec: run_backup(rec, lc, now=T0)).snapshot
    (snap,) = run(s, lambda rec: list_snapshots(rec.es, lc, rec.names))

    async def die_after_the_delete(rec):  # what prune does up to the delete, then the process dies
        await rec.record(
            "snapshot_delete",
            "started",
            now=T0 + timedelta(days=15),
            job_id=snap.job_id,
            target=name,
            message="deleting",
            control=deleted_event(rec, snap, T0 + timedelta(days=15)),
            send=False,
        )
        await rec.es.snapshot.delete(repository=lc.snapshot_repository, snapshot=name)

    run(s, die_after_the_delete)
    es.indices.refresh(index=f"{s.es.index_prefix}-audit")
    # a repository that is not there (renamed in settings, unregistered) proves nothing about the snapshot
    unregistered = lc.model_copy(update={"snapshot_repository": f"{lc.snapshot_repository}-gone"})
    assert run(s, lambda rec: prune(rec, unregistered, now=T0 + timedelta(days=15, minutes=30))) == []
    assert len(read_topic(f"{s.es.index_prefix}-raw-control", expected=2)) == 2
    assert run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=15, hours=1))) == []
    lines = read_topic(f"{s.es.index_prefix}-raw-control", expected=3)
    assert [(line["status"], line.get("backup_id")) for line in lines] == [
        ("started", name),
        ("succeeded", name),
        ("deleted", name),
    ]
    es.indices.refresh(index=f"{s.es.index_prefix}-audit")
    done = es.search(
        index=f"{s.es.index_prefix}-audit",
        query={"bool": {"filter": [{"term": {"action": "snapshot_delete"}}, {"term": {"outcome": "success"}}]}},
    )["hits"]["hits"]
    assert [h["_source"]["target"] for h in done] == [name] and done[0]["_source"]["kafka_delivered"] is True
    run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=16)))  # once recorded, never again
    assert len(read_topic(f"{s.es.index_prefix}-raw-control", expected=3)) == 3


def test_a_backup_deleted_event_kafka_missed_is_sent_by_the_next_prune(deployment, es):
    s, lc = deployment, deployment.lifecycle
    asyncio.run(load(s.es, per_workspace=5, days=1, alerts=0, workspaces=("ws-a",)))
    name = run(s, lambda rec: run_backup(rec, lc, now=T0)).snapshot
    offline = s.model_copy(update={"kafka": s.kafka.model_copy(update={"bootstrap": f"127.0.0.1:{free_port()}"})})
    (pruned,) = run(offline, lambda rec: prune(rec, lc, now=T0 + timedelta(days=15)))
    assert pruned.action == "delete"
    audit = f"{s.es.index_prefix}-audit"
    es.indices.refresh(index=audit)
    query = {"bool": {"filter": [{"term": {"action": "snapshot_delete"}}, {"term": {"outcome": "success"}}]}}
    (record,) = es.search(index=audit, query=query)["hits"]["hits"]
    assert record["_source"]["kafka_delivered"] is False
    assert [line["status"] for line in read_topic(f"{s.es.index_prefix}-raw-control", expected=2)] == [
        "started",
        "succeeded",
    ]

    run(s, lambda rec: prune(rec, lc, now=T0 + timedelta(days=15, hours=2)))
    lines = read_topic(f"{s.es.index_prefix}-raw-control", expected=3)
    assert [(line["status"], line.get("backup_id")) for line in lines] == [
        ("started", name),
        ("succeeded", name),
        ("deleted", name),
    ]
    es.indices.refresh(index=audit)
    assert [h["_source"]["kafka_delivered"] for h in es.search(index=audit, query=query)["hits"]["hits"]] == [True]
