"""Group timing (group_wait, group_interval, repeat_interval), silences and the outbox, as pure
functions over a JSON state."""

from __future__ import annotations

import json

from pipeline.delivery import grouping
from tests.unit.pipeline.delivery.factories import alert

WAIT, INTERVAL, REPEAT = 30.0, 300.0, 3600.0


def group(now: float = 0.0):
    return grouping.new_group("0|hook|[]", "0", "hook", {"rule": "r"}, (WAIT, INTERVAL, REPEAT), 2, now)


def doc(**kw):
    return alert(**kw).to_doc()


def never(_doc):
    return None


def deliver(state, now):
    """Plan at `now`, and when a notification goes out, mark it accepted."""
    p = grouping.plan(state, now, never)
    if p.send is None:
        return p.state, None
    return grouping.after_attempt(p.state, "delivered", now), p.send


def test_first_notification_waits_group_wait_and_carries_the_whole_group():
    s = grouping.add_alert(group(0), doc(user="a"), now=0)
    s = grouping.add_alert(s, doc(user="b"), now=10)
    assert s["due"] == WAIT
    s, sent = deliver(s, WAIT - 1)
    assert sent is None
    s, sent = deliver(s, WAIT)
    assert sorted(d["user"]["name"] for d in sent["docs"]) == ["a", "b"]
    assert sent["status"] == "firing" and len(sent["changed"]) == 2


def test_new_alert_waits_group_interval_count_growth_waits_repeat_interval():
    s, _ = deliver(grouping.add_alert(group(0), doc(user="a"), now=0), WAIT)
    s = grouping.add_alert(s, doc(user="a", count=5), now=40)  # still happening: a reminder, not a page
    assert s["due"] == WAIT + REPEAT
    s = grouping.add_alert(s, doc(user="b"), now=50)  # a new alert: after group_interval
    assert s["due"] == WAIT + INTERVAL
    s, sent = deliver(s, WAIT + INTERVAL)
    assert sent["changed"] == [alert(user="b").alert.id, alert(user="a").alert.id]
    assert s["due"] == WAIT + INTERVAL + REPEAT  # nothing pending: expiry after a quiet repeat_interval


def test_quiet_group_expires_and_the_next_alert_starts_a_new_one():
    s, _ = deliver(grouping.add_alert(group(0), doc(), now=0), WAIT)
    assert grouping.plan(s, WAIT + REPEAT - 1, never).expire is False
    assert grouping.plan(s, WAIT + REPEAT, never).expire is True


def test_an_older_update_never_replaces_a_newer_one():
    s = grouping.add_alert(group(0), doc(count=7), now=0)
    s = grouping.add_alert(s, doc(count=3), now=1)
    assert s["alerts"][alert().alert.id]["count"] == 7


def test_resolved_alert_is_sent_after_group_interval_then_forgotten():
    s, _ = deliver(grouping.add_alert(group(0), doc(), now=0), WAIT)
    s = grouping.add_alert(s, doc(status="resolved"), now=100)
    assert s["due"] == WAIT + INTERVAL
    s, sent = deliver(s, WAIT + INTERVAL)
    assert sent["status"] == "resolved"
    assert s["alerts"] == {} and grouping.plan(s, WAIT + INTERVAL, never).expire


def test_outbox_keeps_id_and_content_across_retries_and_holds_changes_back():
    s = grouping.add_alert(group(0), doc(user="a"), now=0)
    p = grouping.plan(s, WAIT, never)
    first_id = p.send["id"]
    s = grouping.after_attempt(p.state, "retry", WAIT, next_at=WAIT + 2)
    s = grouping.add_alert(s, doc(user="b"), now=WAIT + 1)
    assert s["due"] == WAIT + 2 and s["outbox"]["attempt"] == 1
    p = grouping.plan(s, WAIT + 2, never)
    assert p.send["id"] == first_id and len(p.send["docs"]) == 1
    s = grouping.after_attempt(p.state, "delivered", WAIT + 2)
    assert s["due"] == WAIT + 2 + INTERVAL  # b follows in the next notification


def test_deferred_attempt_is_not_counted():
    s = grouping.plan(grouping.add_alert(group(0), doc(), now=0), WAIT, never).state
    s = grouping.after_attempt(s, "deferred", WAIT, next_at=WAIT + 30)
    assert s["outbox"]["attempt"] == 0 and s["due"] == WAIT + 30


def test_notification_id_is_a_function_of_content():
    a = grouping.add_alert(group(0), doc(user="a"), now=0)
    b = grouping.add_alert(group(5), doc(user="a"), now=9)  # same content, other timing: same id
    assert grouping.plan(a, WAIT, never).send["id"] == grouping.plan(b, 99, never).send["id"]
    c = grouping.add_alert(group(0), doc(user="a", count=2), now=0)
    assert grouping.plan(a, WAIT, never).send["id"] != grouping.plan(c, WAIT, never).send["id"]


def test_notification_ids_do_not_change_between_versions():
    # a worker upgraded between a send and its state write re-sends the notification: with the id
    # the receiver already saw (computed as json.dumps(..., separators=(",", ":")) always did)
    versions = {"a1": [3, "open"], "a0": [1, "resolved"]}
    assert grouping.notification_id("oncall", '0|oncall|["user=j\u00fcrgen"]', versions) == (
        "ntf_c0bea5aac9d22028247b87baf4960193"
    )


def test_silenced_alerts_are_recorded_once_left_out_and_sent_when_the_silence_ends():
    muted_id = alert(user="m").alert.id
    s = grouping.add_alert(grouping.add_alert(group(0), doc(user="m"), now=0), doc(user="n"), now=0)

    def silence(d):
        return "sil-1" if d["alert"]["id"] == muted_id else None

    p = grouping.plan(s, WAIT, silence)
    assert p.silenced == [(muted_id, "sil-1")]
    assert [d["user"]["name"] for d in p.send["docs"]] == ["n"]
    s = grouping.after_attempt(p.state, "delivered", WAIT)
    s = grouping.add_alert(s, doc(user="m", count=2), now=100)
    p = grouping.plan(s, WAIT + INTERVAL, silence)
    assert p.silenced == [] and p.send is None  # still muted: no send, not recorded twice
    assert p.state["due"] == WAIT + 2 * INTERVAL  # looked at again after group_interval
    p = grouping.plan(p.state, WAIT + 2 * INTERVAL, never)  # the silence ended
    assert [d["user"]["name"] for d in p.send["docs"]] == ["m", "n"]


def test_all_silenced_group_expires_after_a_quiet_repeat_interval():
    s = grouping.add_alert(group(0), doc(), now=0)
    p = grouping.plan(s, WAIT, lambda d: "sil")
    assert p.send is None and p.silenced
    assert grouping.plan(p.state, REPEAT + 1, lambda d: "sil").expire


def test_payload_size_is_bounded():
    s = group(0)
    for i in range(grouping.MAX_GROUP_ALERTS + 5):
        s = grouping.add_alert(s, doc(user=f"u{i}", events=40), now=i / 1000)
    assert len(s["alerts"]) == grouping.MAX_GROUP_ALERTS and s["overflow"] == 5
    sent = grouping.plan(s, WAIT, never).send
    assert len(sent["docs"]) == grouping.MAX_NOTIFY_ALERTS
    assert sent["truncated"] == grouping.MAX_GROUP_ALERTS + 5 - grouping.MAX_NOTIFY_ALERTS
    assert all(len(d["secmon"]["event_ids"]) == grouping.MAX_EVENT_IDS for d in sent["docs"])
    json.dumps(s)  # the state is JSON (it lives in a Faust changelog)


def test_functions_do_not_change_their_input():
    s = grouping.add_alert(group(0), doc(), now=0)
    before = json.dumps(s, sort_keys=True)
    p = grouping.plan(s, WAIT, never)
    grouping.after_attempt(p.state, "delivered", WAIT)
    grouping.add_alert(s, doc(count=3), now=1)
    assert json.dumps(s, sort_keys=True) == before
