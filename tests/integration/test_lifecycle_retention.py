"""Retention on the real node with a fake clock: whole expired daily indices go, per dataset; an index
under legal hold stays until the hold is closed; every decision is audited once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bench.purge import load
from pipeline.lifecycle.audit import session
from pipeline.lifecycle.holds import close_hold, open_hold
from pipeline.lifecycle.retention import run_retention
from pipeline.settings import SecmonSettings
from tests.integration.test_lifecycle_purge import settings_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)  # bench data: one index per day from 2026-11-20


def run(settings: SecmonSettings, step):
    async def go():
        async with session(settings, "tester") as rec:
            return await step(rec)

    return asyncio.run(go())


def test_expired_indices_are_deleted_except_held_ones_until_the_hold_closes(stack, es):
    p = stack.prefix
    s = settings_for(p)
    s.lifecycle.retention_days = {"app.signin": 2, "alerts": 30}
    asyncio.run(load(s.es, per_workspace=40, days=5, alerts=5, workspaces=("ws-a",)))
    events = [f"{p}-events-app.signin-2026.11.{day}" for day in range(20, 25)]
    run(s, lambda rec: open_hold(rec, incident_id="INC-1", reason="subpoena", patterns=[events[0]], now=NOW))

    planned = run(s, lambda rec: run_retention(rec, s.lifecycle, now=NOW, dry_run=True))
    assert {pl.index: pl.action for pl in planned.plans if pl.kind == "events"} == {
        events[0]: "hold",
        events[1]: "delete",
        events[2]: "delete",
        events[3]: "keep",
        events[4]: "keep",
    }
    assert all(pl.action == "keep" for pl in planned.plans if pl.kind == "alerts")
    assert all(es.indices.exists(index=i) for i in events)  # a dry run deletes nothing

    done = run(s, lambda rec: run_retention(rec, s.lifecycle, now=NOW))
    assert done.deleted == events[1:3] and not done.failed
    assert [i for i in events if es.indices.exists(index=i)] == [events[0], *events[3:]]
    again = run(s, lambda rec: run_retention(rec, s.lifecycle, now=NOW + timedelta(hours=1)))
    assert again.deleted == []

    audit = f"{p}-audit"
    es.indices.refresh(index=audit)
    records = [
        (h["_source"]["action"], h["_source"]["outcome"], h["_source"].get("target"))
        for h in es.search(index=audit, size=100, query={"prefix": {"action": "retention"}})["hits"]["hits"]
    ]
    assert sorted(records) == sorted(
        [("retention_hold", "kept", events[0])]
        + [("retention_delete", outcome, index) for index in events[1:3] for outcome in ("started", "success")]
    )

    run(s, lambda rec: close_hold(rec, incident_id="INC-1", reason="case dismissed", now=NOW + timedelta(days=1)))
    released = run(s, lambda rec: run_retention(rec, s.lifecycle, now=NOW + timedelta(days=1)))
    assert released.deleted == [events[0], events[3]]  # the released one, and the next day now expired
