"""Alert delivery through the real broker: alerts topic -> `secmon worker` -> loopback receivers.

Alerts are produced to `<prefix>-alerts`; the worker (a subprocess) routes, groups, silences and
sends them to real HTTP servers on 127.0.0.1: a webhook that answers 500 twice before 200, and a
PagerDuty stand-in. The worker is SIGKILLed mid-way and restarted. Every alert must arrive, no
alert may be lost; a re-sent alert must carry the webhook-id it had before (the documented
duplicate). History, silences and suppressions must be in Elasticsearch.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request

from tests.integration.conftest import NOT_YET, free_port, produce_alerts, wait_for
from tests.unit.pipeline.delivery.factories import HOOK_PER_ALERT, SECRET, alert
from tests.unit.pipeline.delivery.loopback import LoopbackReceiver, check_pagerduty_event, verify_standard_webhook

ROUTES = (
    HOOK_PER_ALERT
    + """\
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - receiver: hook
"""
)


def test_alerts_are_delivered_through_kafka_across_a_worker_kill(stack, es):
    hook, pager = LoopbackReceiver(behaviour="flaky", fail=2), LoopbackReceiver(ok_status=202)
    try:
        _run(stack, es, hook, pager)
    finally:
        hook.close()
        pager.close()


def _run(stack, es, hook: LoopbackReceiver, pager: LoopbackReceiver) -> None:
    routes = stack.workdir / "routes.yaml"
    routes.write_text(ROUTES)
    port = free_port()
    env = {
        "SECMON_DELIVERY_ROUTES_FILE": str(routes),
        "SECMON_DELIVERY_TICK_SECONDS": "0.5",
        "SECMON_DELIVERY_SILENCE_REFRESH_SECONDS": "1",
        "SECMON_METRICS_PORT": str(port),
        "SECMON_DELIVERY_RETRY": json.dumps({"initial_backoff_seconds": 0.2, "max_backoff_seconds": 1}),
        "SECMON_DELIVERY_RECEIVERS": json.dumps(
            {
                "hook": {"kind": "webhook", "url": hook.url, "secret": SECRET},
                "pager": {"kind": "pagerduty", "url": pager.url, "routing_key": "R0INTEGRATION"},
            }
        ),
    }
    assert stack.secmon("topics").returncode == 0
    added = stack.secmon("silence", "add", 'rule="signin_new_device"', "--comment", "maintenance", "--author", "ci")
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()

    first = [alert(user=f"a{i}", severity="critical" if i % 5 == 0 else "high") for i in range(30)]
    muted = alert(rule="signin_new_device", user="muted")
    beta = alert(rule="beta_rule", user="beta", severity="critical", maturity="experimental")
    produce_alerts(f"{stack.prefix}-alerts", first + [muted, beta])
    worker = stack.start("worker", log_name="worker-1", env=env)
    wait_for(lambda: len(hook.webhook_ids()) >= 10, timeout=180, interval=0.2, what="first deliveries")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    second = [alert(user=f"b{i}") for i in range(30)] + [alert(user="a1", count=2)]  # a1 grew: no new page
    produce_alerts(f"{stack.prefix}-alerts", second)
    stack.start("worker", log_name="worker-2", env=env)
    expected = {a.alert.id for a in first + second + [beta]}
    try:
        wait_for(lambda: set(hook.webhook_ids()) >= expected, timeout=180, interval=0.5, what="every alert delivered")
    except BaseException:
        _explain(stack, es, expected - set(hook.webhook_ids()))
        raise

    got = hook.webhook_ids()
    assert muted.alert.id not in got, "a silenced alert was sent"
    assert set(got) == expected
    resent = {aid: ids for aid, ids in got.items() if len(ids) > 1}
    assert not resent, f"re-sent alerts must keep their webhook-id (documented duplicate), got {resent}"
    for hit in hook.hits:
        verify_standard_webhook(SECRET, hit.headers, hit.body, now=hit.at)
    criticals = {a.alert.id for a in first if a.alert.severity == "critical"}
    wait_for(lambda: {h.json["dedup_key"] for h in pager.accepted()} >= criticals, timeout=60, what="pages")
    assert all(check_pagerduty_event(h.json) == [] for h in pager.hits)
    assert beta.alert.id not in {h.json["dedup_key"] for h in pager.hits}, "an experimental detector paged"
    _check_history(stack, es, silence_id, muted, beta, {h.headers["webhook-id"] for h in hook.accepted()})
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'secmon_notifications_total{outcome="delivered",receiver="hook"}' in metrics
    assert 'secmon_notification_seconds_bucket{le="0.005",receiver="hook"}' in metrics
    print(
        f"hook: {len(hook.hits)} requests, {len(hook.accepted())} accepted, {len(got)} alerts; "
        f"pager: {len(pager.hits)} requests; duplicates (same webhook-id): "
        f"{len(hook.accepted()) - len({h.headers['webhook-id'] for h in hook.accepted()})}"
    )


def _check_history(stack, es, silence_id: str, muted, beta, accepted: set[str]) -> None:
    """Every accepted notification has its `delivered` record; silences and suppressions are recorded.

    (Attempts made just before the SIGKILL may have no record: their batch was re-processed and
    re-sent by the second worker, which recorded that attempt under the same document id.)"""
    index = f"{stack.prefix}-notifications-*"

    def hits(query):
        es.indices.refresh(index=index)
        return [h["_source"] for h in es.search(index=index, query=query, size=1000)["hits"]["hits"]]

    delivered = {"bool": {"filter": [{"term": {"receiver": "hook"}}, {"term": {"outcome": "delivered"}}]}}
    wait_for(
        lambda: {r["notification_id"] for r in hits(delivered)} >= accepted,
        timeout=60,
        what="a delivered record for every accepted notification",
    )
    silenced = hits({"term": {"kind": "silenced"}})
    assert [(s["silence_id"], s["alert_ids"]) for s in silenced] == [(silence_id, [muted.alert.id])]
    suppressed = hits({"term": {"kind": "suppressed"}})
    assert [(s["receiver"], s["alert_ids"]) for s in suppressed] == [("pager", [beta.alert.id])]
    retried = hits({"bool": {"filter": [{"term": {"receiver": "hook"}}, {"term": {"outcome": "retry"}}]}})
    assert all(r["status_code"] == 500 and r["next_attempt_at"] for r in retried)
    paged = hits({"bool": {"filter": [{"term": {"receiver": "pager"}}, {"term": {"outcome": "delivered"}}]}})
    assert paged and all(p["status_code"] == 202 and p["latency_ms"] >= 0 for p in paged)


def _explain(stack, es, missing: set[str]) -> None:
    """On failure: what the history says about the alerts that never arrived."""
    es.options(ignore_status=NOT_YET).indices.refresh(index=f"{stack.prefix}-notifications-*")
    found = es.options(ignore_status=NOT_YET).search(
        index=f"{stack.prefix}-notifications-*", size=100, query={"terms": {"alert_ids": sorted(missing)}}
    )
    print(f"{len(missing)} alerts missing: {sorted(missing)[:5]}...")
    for hit in (found or {}).get("hits", {}).get("hits", []):
        print("  history:", hit["_source"])
