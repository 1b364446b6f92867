"""A delivery worker upgraded in place keeps its groups: the group state an older worker wrote
(version 1, `data/group_state_v1.json`, written by the code before records were versioned: a
group with one notification delivered and a second one waiting for its retry) reads as the state
this version builds for the same alerts, and is sent on with the same webhook-id."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from pipeline.delivery import grouping, retry
from pipeline.delivery.outbox import DictGroups, Item, commit
from pipeline.delivery.service import Deliverer
from schemas.delivery import GROUP_VERSION, NotifyTick, RecordError, group_from_doc
from tests.unit.pipeline.delivery import factories
from tests.unit.pipeline.delivery.factories import alert
from tests.unit.pipeline.delivery.loopback import LoopbackReceiver

V1 = json.loads((Path(__file__).parent / "data" / "group_state_v1.json").read_text(encoding="utf-8"))
WAIT, INTERVAL, REPEAT = 30.0, 300.0, 3600.0
ROUTES = "route:\n  receiver: hook\n  group_by: [alert_id]\n  group_wait: 0s\n"


def never(_doc):
    return None


def same_steps_today():
    """What the fixture's writer did, run by this version."""
    s = grouping.new_group("0|hook|[]", "0", "hook", {"rule": "r"}, (WAIT, INTERVAL, REPEAT), 2, 0.0)
    s = grouping.add_alert(s, alert(user="a").to_doc(), 0.0)
    s = grouping.after_attempt(grouping.plan(s, WAIT, never).state, "delivered", WAIT)
    s = grouping.add_alert(s, alert(user="a", count=4).to_doc(), 40.0)
    s = grouping.add_alert(s, alert(user="b").to_doc(), 50.0)
    p = grouping.plan(s, WAIT + INTERVAL, never)
    return grouping.after_attempt(p.state, "retry", WAIT + INTERVAL, next_at=WAIT + INTERVAL + 2)


def test_a_version_1_group_reads_as_the_state_this_version_builds():
    assert V1["v"] == 1 and "p" in V1 and "t" in V1  # the fixture is the old format
    migrated = group_from_doc(V1)
    assert migrated == same_steps_today()
    assert migrated["v"] == GROUP_VERSION and migrated["partition"] == 2
    assert migrated["timing"] == {"wait": WAIT, "interval": INTERVAL, "repeat": REPEAT}
    assert group_from_doc(migrated) is migrated  # the current version is read as it is


def test_a_version_1_group_behaves_as_before_after_the_migration():
    s = group_from_doc(V1)
    assert grouping.due_at(s) == V1["due"] == WAIT + INTERVAL + 2
    p = grouping.plan(s, V1["due"], never)
    assert p.send is not None and p.send["id"] == V1["outbox"]["id"] and p.send["attempt"] == 1
    s = grouping.after_attempt(p.state, "delivered", V1["due"])
    assert s["outbox"] is None and s["sent"] == V1["outbox"]["versions"]
    assert s["due"] == V1["due"] + REPEAT  # nothing pending: expires after a quiet repeat_interval


def test_a_worker_upgraded_in_place_sends_the_pending_outbox_with_its_webhook_id(tmp_path):
    hook = LoopbackReceiver()
    try:
        cfg = factories.settings(tmp_path, ROUTES, receivers=factories.receivers(hook=hook.url))
        store = DictGroups({V1["key"]: json.loads(json.dumps(V1))})  # as the changelog recovers it

        async def tick():
            async with retry.session() as session:
                core = Deliverer(cfg, factories.tree(cfg), session, "t", "t-notify")
                return await core.process([Item(2, None, NotifyTick())], store, time.time())

        effects = asyncio.run(tick())
        commit(store, effects)
    finally:
        hook.close()
    (hit,) = hook.accepted()
    assert hit.headers["webhook-id"] == V1["outbox"]["id"]
    assert [a["alert"]["id"] for a in hit.json["data"]["alerts"]] == [d["alert"]["id"] for d in V1["outbox"]["docs"]]
    (record,) = [a["_source"] for a in effects.history]
    assert (record["outcome"], record["attempt"]) == ("delivered", 2)
    written = store[V1["key"]]
    assert written["v"] == GROUP_VERSION and written["outbox"] is None and written["sent"] == V1["outbox"]["versions"]


def test_a_group_written_by_a_newer_worker_is_refused_with_what_to_do():
    with pytest.raises(RecordError, match="reads versions 1 to 2; upgrade the worker"):
        group_from_doc({**V1, "v": 3})
