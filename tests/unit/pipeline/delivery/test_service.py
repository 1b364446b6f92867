"""The delivery core against REAL HTTP receivers on loopback (no Kafka: the Faust agent is a thin
loop around this). Slow, 500-then-200, 429 + Retry-After and down-then-up receivers: every alert
is delivered, none is lost, and the only duplicates are the documented ones (same webhook-id)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.delivery import retry
from pipeline.delivery.outbox import DictGroups, Effects, Item, commit, items_of, route_messages
from pipeline.delivery.service import Deliverer
from pipeline.delivery.silences import SilenceCache, new_silence
from schemas.delivery import NotifyTick
from tests.unit.pipeline.delivery import factories
from tests.unit.pipeline.delivery.factories import SECRET, alert
from tests.unit.pipeline.delivery.loopback import LoopbackReceiver, check_pagerduty_event, verify_standard_webhook

PER_ALERT = "route:\n  receiver: {root}\n  group_by: [alert_id]\n  group_wait: 0s\n  routes:\n{children}"


def per_alert_routes(root: str, *others: str) -> str:
    children = "".join(f"    - receiver: {name}\n      continue: true\n" for name in (root, *others))
    return PER_ALERT.format(root=root, children=children)


@pytest.fixture
def servers():
    started: list[LoopbackReceiver] = []

    def make(**kw) -> LoopbackReceiver:
        started.append(LoopbackReceiver(**kw))
        return started[-1]

    yield make
    for server in started:
        server.close()


def run(cfg, alerts, until, timeout=30.0, silences=()):
    """Feed the alerts through route_messages + Deliverer, then tick until `until()` or timeout."""

    async def go():
        tree = factories.tree(cfg)
        store, total = DictGroups(), Effects()
        async with retry.session() as session:
            core = Deliverer(cfg, tree, session, "t", "t-notify", SilenceCache(list(silences)))
            items = [i for p, v in route_messages(tree, alerts, 4) for i in items_of(p, v)]
            _merge(total, await core.process(items, store, time.time()), store)
            deadline = time.time() + timeout
            while not until() and time.time() < deadline:
                await asyncio.sleep(0.05)
                ticks = [Item(p, None, NotifyTick()) for p in range(4)]
                _merge(total, await core.process(ticks, store, time.time()), store)
        return total, store

    return asyncio.run(go())


def _merge(total: Effects, part: Effects, store: DictGroups) -> None:
    commit(store, part)
    total.history += part.history
    total.dead_letters += part.dead_letters
    total.alerts += part.alerts


def alert_ids(hits) -> list[str]:
    return [a["alert"]["id"] for h in hits for a in h.json["data"]["alerts"]]


def test_every_alert_reaches_slow_flaky_rate_limited_and_down_receivers(tmp_path, servers):
    slow, flaky = servers(behaviour="slow", delay=0.4), servers(behaviour="flaky", fail=3)
    limited, down = servers(behaviour="ratelimit", fail=2, retry_after=1), servers(behaviour="down")
    names = {"slow": slow, "flaky": flaky, "limited": limited, "down": down}
    receivers = {n: {"kind": "webhook", "url": s.url, "secret": SECRET} for n, s in names.items()}
    cfg = factories.settings(
        tmp_path,
        per_alert_routes("slow", "flaky", "limited", "down"),
        receivers=receivers,
        retry={
            "initial_backoff_seconds": 0.05,
            "max_backoff_seconds": 0.3,
            "max_attempts": 40,
            "budget_seconds": 60,
            "breaker_failures": 3,
            "breaker_cooldown_seconds": 0.3,
        },
    )
    alerts = [alert(user=f"user{i}") for i in range(20)]
    expected = sorted(a.alert.id for a in alerts)
    threading.Timer(1.5, down.up).start()  # down for 1.5 s, then up

    effects, store = run(cfg, alerts, until=lambda: all(len(s.accepted()) >= 20 for s in names.values()))

    for name, server in names.items():
        accepted = server.accepted()
        assert sorted(alert_ids(accepted)) == expected, f"{name}: lost or doubled alerts"
        for hit in server.hits:
            verify_standard_webhook(SECRET, hit.headers, hit.body, now=hit.at)
        # a refused request is re-sent with the same webhook-id, so a receiver can drop repeats
        ids = Counter(h.headers["webhook-id"] for h in server.hits)
        assert set(ids) == {h.headers["webhook-id"] for h in accepted}
    assert len(flaky.hits) == 23 and len(limited.hits) == 22
    first_429 = limited.hits[0]
    again = next(h for h in limited.hits[1:] if h.headers["webhook-id"] == first_429.headers["webhook-id"])
    assert again.at - first_429.at >= 0.95, "Retry-After: 1 was not honoured"
    assert not effects.dead_letters and not effects.alerts
    records = [a["_source"] for a in effects.history]
    assert Counter(r["outcome"] for r in records)["delivered"] == 80
    assert {r["receiver"] for r in records if r["outcome"] == "retry"} >= {"flaky", "limited", "down"}
    assert len({a["_id"] for a in effects.history}) == len(effects.history)  # one document per attempt
    assert all(s["outbox"] is None for s in store.values())


def test_timed_out_attempt_is_resent_with_the_same_webhook_id(tmp_path, servers):
    slow = servers(behaviour="slow", delay=1.0, fail=1)  # the first answer comes after the client gave up
    cfg = factories.settings(
        tmp_path, per_alert_routes("hook"), receivers=factories.receivers(hook=slow.url), timeout_seconds=0.3
    )
    run(cfg, [alert()], until=lambda: len(slow.accepted()) >= 2)
    first, second = slow.hits[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body


def test_permanent_error_is_dead_lettered_and_raises_delivery_failed(tmp_path, servers):
    gone = servers(ok_status=410)
    cfg = factories.settings(tmp_path, per_alert_routes("hook"), receivers=factories.receivers(hook=gone.url))
    effects, store = run(cfg, [alert()], until=lambda: False, timeout=0.3)
    assert len(gone.hits) == 1  # not retried
    assert [r["_source"]["outcome"] for r in effects.history] == ["failed"]
    (dead,) = effects.dead_letters
    assert dead.stage == "deliver" and "HTTP 410" in dead.reason
    assert json.loads(dead.original())["data"]["alerts"][0]["alert"]["id"] == alert().alert.id
    (failure,) = effects.alerts
    assert failure.rule.id == "delivery_failed" and failure.alert.dedup_key == "hook"


def test_retry_budget_spent_then_dead_letter(tmp_path, servers):
    broken = servers(behaviour="flaky", fail=10_000)
    cfg = factories.settings(
        tmp_path,
        per_alert_routes("hook"),
        receivers=factories.receivers(hook=broken.url),
        retry={
            "initial_backoff_seconds": 0.02,
            "max_backoff_seconds": 0.05,
            "max_attempts": 4,
            "breaker_failures": 100,
        },
    )
    effects, _ = run(cfg, [alert()], until=lambda: len(broken.hits) >= 4, timeout=5)
    outcomes = [r["_source"]["outcome"] for r in effects.history]
    assert outcomes == ["retry", "retry", "retry", "dead_letter"] and len(broken.hits) == 4
    assert [r["_source"]["attempt"] for r in effects.history] == [1, 2, 3, 4]
    assert len(effects.dead_letters) == 1 and effects.alerts[0].alert.count == 1


def test_failed_delivery_failed_alert_raises_no_further_alert(tmp_path, servers):
    gone = servers(ok_status=404)
    cfg = factories.settings(tmp_path, per_alert_routes("hook"), receivers=factories.receivers(hook=gone.url))
    failure = alert(rule="delivery_failed", tags=("policy.alert_delivery",))
    effects, _ = run(cfg, [failure], until=lambda: False, timeout=0.3)
    assert len(effects.dead_letters) == 1 and effects.alerts == []


def test_grouping_sends_one_notification_per_group(tmp_path, servers):
    hook = servers()
    routes = "route:\n  receiver: hook\n  group_by: [rule]\n  group_wait: 1s\n"
    cfg = factories.settings(tmp_path, routes, receivers=factories.receivers(hook=hook.url))
    alerts = [alert(rule=f"rule_{i % 2}", user=f"u{i}") for i in range(10)]
    run(cfg, alerts, until=lambda: len(hook.accepted()) >= 2, timeout=5)
    time.sleep(0.2)
    assert sorted(len(h.json["data"]["alerts"]) for h in hook.hits) == [5, 5]
    assert sorted(h.json["data"]["group_labels"]["rule"] for h in hook.hits) == ["rule_0", "rule_1"]


def test_silenced_and_experimental_alerts_are_recorded_not_sent(tmp_path, servers):
    hook, chat, pager = servers(), servers(), servers(ok_status=202)
    routes = (
        "route:\n  receiver: hook\n  group_by: [alert_id]\n  group_wait: 0s\n  routes:\n"
        "    - matchers: [severity=critical]\n      receiver: pager\n      continue: true\n"
        "    - receiver: hook\n"
    )
    cfg = factories.settings(
        tmp_path, routes, receivers=factories.receivers(hook=hook.url, chat=chat.url, pager=pager.url)
    )
    now = datetime.now(timezone.utc)
    silence = new_silence(
        ['rule="signin_new_device"'], now - timedelta(minutes=1), now + timedelta(hours=1), "alice", "CHG-1"
    )
    muted, experimental = (
        alert(rule="signin_new_device"),
        alert(rule="x_beta", severity="critical", maturity="experimental"),
    )
    paged = alert(rule="signin_bruteforce_user", severity="critical")
    effects, _ = run(
        cfg, [muted, experimental, paged], until=lambda: len(hook.accepted()) >= 2, timeout=5, silences=[silence]
    )
    assert sorted(alert_ids(hook.accepted())) == sorted([experimental.alert.id, paged.alert.id])
    (pd_hit,) = pager.hits  # only the stable detector paged
    assert check_pagerduty_event(pd_hit.json) == [] and pd_hit.json["dedup_key"] == paged.alert.id
    records = {(r["_source"]["kind"], r["_source"]["receiver"]): r["_source"] for r in effects.history}
    assert records[("silenced", "hook")]["silence_id"] == silence.id
    assert records[("silenced", "hook")]["alert_ids"] == [muted.alert.id]
    assert records[("suppressed", "pager")]["alert_ids"] == [experimental.alert.id]


def test_alerts_travel_in_bundles_per_group_partition(tmp_path, monkeypatch):
    from pipeline.delivery import outbox

    monkeypatch.setattr(outbox, "MAX_BUNDLE_BYTES", 4000)
    tree = factories.tree(factories.settings(tmp_path, per_alert_routes("hook")))
    alerts = [alert(user=f"u{i}") for i in range(40)]
    messages = route_messages(tree, alerts, 4)
    assert all(len(v) < 4000 + 2000 for _, v in messages) and len(messages) > 4
    items = [i for p, v in messages for i in items_of(p, v)]
    assert len(items) == 40 and all(i.partition == outbox.partition_of(i.key, 4) for i in items)
    per_partition = {}
    for i in items:
        per_partition.setdefault(i.partition, []).append(i.value.alert["user"]["name"])
    for names in per_partition.values():  # order kept within a partition
        assert names == sorted(names, key=lambda n: int(n[1:]))


def test_a_crash_during_the_first_send_re_sends_the_same_notification_though_the_group_grew(tmp_path, servers):
    """Worker 1 sends a1's notification and dies before writing the group's state; worker 2 reads
    the same notify messages again plus a1 grown to count 2. What worker 1 made durable before the
    send (`before_send`) is all worker 2 has: it must re-send that very notification (the documented
    duplicate: same webhook-id, same body), not one rebuilt from the grown group (a second page)."""
    hook = servers()
    cfg = factories.settings(tmp_path, per_alert_routes("hook"), receivers=factories.receivers(hook=hook.url))
    tree = factories.tree(cfg)
    durable = DictGroups()  # the changelog: what survives the crash

    async def before_send(states, effects):
        for key, (state, partition) in states.items():
            durable.put(key, json.loads(json.dumps(state)), partition)

    def items(*alerts):
        return [i for p, v in route_messages(tree, list(alerts), 4) for i in items_of(p, v)]

    async def go():
        async with retry.session() as session:
            first = Deliverer(cfg, tree, session, "t", "t-notify", before_send=before_send)
            await first.process(items(alert()), DictGroups(), time.time())  # sent; its effects never written
            assert len(hook.accepted()) == 1
            second = Deliverer(cfg, tree, session, "t", "t-notify", before_send=before_send)
            store = DictGroups((k, json.loads(json.dumps(v))) for k, v in durable.items())
            for key, state in store.items():
                store.index.note(key, state)
            commit(store, await second.process(items(alert(), alert(count=2)), store, time.time()))

    asyncio.run(go())
    sent = hook.accepted()
    assert len(sent) == 2
    assert sent[0].headers["webhook-id"] == sent[1].headers["webhook-id"] and sent[0].body == sent[1].body


def test_a_crash_during_the_first_send_loses_no_silenced_record_of_the_group(tmp_path, servers):
    """A group holds a silenced alert and one to page. The state made durable before the send marks
    the first as silenced (muted): when the worker dies during the send, the replay retries the
    outbox and never records that silencing again, so its history record must be durable first."""
    hook = servers()
    routes = "route:\n  receiver: hook\n  group_by: [workspace]\n  group_wait: 0s\n"
    cfg = factories.settings(tmp_path, routes, receivers=factories.receivers(hook=hook.url))
    tree = factories.tree(cfg)
    now = datetime.now(timezone.utc)
    silence = new_silence(['rule="signin_new_device"'], now - timedelta(minutes=1), now + timedelta(hours=1), "a", "C")
    muted, paged = alert(rule="signin_new_device"), alert(rule="signin_bruteforce_user")
    durable, written = DictGroups(), []  # the changelog and the history topic: what survives the crash

    async def before_send(states, effects=None):  # effects: the batch's so far, theirs to write first
        if effects is not None:
            written.extend(effects.history)
            effects.history.clear()
        for key, (state, partition) in states.items():
            durable.put(key, json.loads(json.dumps(state)), partition)

    def items(*alerts):
        return [i for p, v in route_messages(tree, list(alerts), 4) for i in items_of(p, v)]

    async def go():
        silences = SilenceCache([silence])
        async with retry.session() as session:
            first = Deliverer(cfg, tree, session, "t", "t-notify", silences, before_send=before_send)
            await first.process(items(muted, paged), DictGroups(), time.time())  # its effects never written
            second = Deliverer(cfg, tree, session, "t", "t-notify", silences, before_send=before_send)
            store = DictGroups((k, json.loads(json.dumps(v))) for k, v in durable.items())
            written.extend((await second.process(items(muted, paged), store, time.time())).history)

    asyncio.run(go())
    assert len(hook.accepted()) == 2, "the documented duplicate: the outbox re-sent"
    silenced = [r["_source"] for r in written if r["_source"]["kind"] == "silenced"]
    assert [r["alert_ids"] for r in silenced] == [[muted.alert.id]]
