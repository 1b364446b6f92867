"""What each receiver sends: a signed versioned webhook, a Slack Block Kit message, a PagerDuty
Events v2 body; checked with independent implementations (tests/.../loopback.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from pydantic import SecretStr

from pipeline.delivery.config import DeliverySettings, ReceiverSettings
from pipeline.delivery.receivers import pagerduty, slack, webhook
from pipeline.delivery.receivers.base import Links, Notification
from schemas.errors import ConfigError
from schemas.webhook import SCHEMA_FILE, WebhookPayload, json_schema
from tests.unit.pipeline.delivery.factories import SECRET, alert, receivers
from tests.unit.pipeline.delivery.loopback import check_pagerduty_event, verify_standard_webhook

LINKS = Links("https://kibana.example/", "secmon-alerts")
NOW = 1_800_000_000.0


def notification(*alerts, status="firing", **kw) -> Notification:
    alerts = alerts or (alert(),)
    return Notification(
        id="ntf_0123",
        receiver="r",
        route="0.1",
        group_key="0.1|r|[]",
        group_labels={"rule": "x"},
        status=status,
        docs=[a.to_doc() for a in alerts],
        changed=[alerts[0].alert.id],
        **({"created": NOW - 5} | kw),
    )


def cfg(name: str) -> ReceiverSettings:
    return ReceiverSettings.model_validate(receivers()[name])


def test_webhook_is_signed_per_standard_webhooks_and_verifies_independently():
    request = webhook.render(notification(), cfg("hook"), LINKS, NOW)
    verify_standard_webhook(SECRET, request.headers, request.body, now=NOW)
    assert request.headers["webhook-id"] == "ntf_0123" and request.headers["webhook-timestamp"] == str(int(NOW))
    with pytest.raises(AssertionError, match="signature"):
        verify_standard_webhook(SECRET, request.headers, request.body.replace(b"bob", b"eve"), now=NOW)
    with pytest.raises(AssertionError, match="tolerance"):
        verify_standard_webhook(SECRET, request.headers, request.body, now=NOW + 600)


def test_webhook_body_is_the_same_on_every_attempt_only_the_signature_moves():
    first = webhook.render(notification(), cfg("hook"), LINKS, NOW)
    retry = webhook.render(notification(), cfg("hook"), LINKS, NOW + 90)
    assert first.body == retry.body and first.headers["webhook-id"] == retry.headers["webhook-id"]
    assert first.headers["webhook-signature"] != retry.headers["webhook-signature"]


def test_webhook_payload_is_versioned_and_valid():
    body = json.loads(webhook.render(notification(), cfg("hook"), LINKS, NOW).body)
    payload = WebhookPayload.model_validate(body)
    assert body["version"] == 1 and body["type"] == "secmon.alerts.firing"
    assert payload.data.alerts[0].alert.id == alert().alert.id
    link = payload.data.kibana_url
    assert "alert.id" in unquote(link) and link.startswith("https://kibana.example/app/discover#/")
    resolved = json.loads(
        webhook.render(notification(alert(status="resolved"), status="resolved"), cfg("hook"), LINKS, NOW).body
    )
    assert resolved["type"] == "secmon.alerts.resolved"


@pytest.mark.parametrize(
    "alerts",
    [
        (alert(),),
        (alert(user='ünï "cødé" <&>\n\t\u2028 /x\\', workspace=None), alert(status="resolved", count=7, events=40)),
        (alert(at=datetime(2026, 11, 30, 9, 0, 0, 123456, tzinfo=timezone.utc)),),
    ],
)
@pytest.mark.parametrize("links", [LINKS, Links()])
def test_webhook_body_is_the_payload_models_json_byte_for_byte(alerts, links):
    n = notification(*alerts, created=NOW + 0.123456, truncated=2)
    expected = webhook.payload(n, links).model_dump_json(by_alias=True, exclude_none=True).encode()
    assert webhook.body(n, links) == expected


def test_webhook_json_schema_file_is_fresh():
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), "run `python -m schemas.webhook` and commit"


def test_slack_block_kit_message_escapes_untrusted_text_and_links_to_kibana():
    evil = alert(user="<!channel> & <https://evil.example|click>")
    body = json.loads(slack.render(notification(evil), cfg("chat"), LINKS, NOW).body)
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    text = json.dumps(body)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["url"].startswith("https://kibana.example/app/discover#/") and len(button["url"]) <= 3000
    assert len(blocks) <= 50 and all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)


def test_slack_lists_ten_alerts_and_counts_the_rest():
    many = [alert(user=f"u{i}") for i in range(14)]
    body = slack.message(notification(*many, truncated=6), LINKS)
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert len(sections) == 10
    assert any("and 10 more" in e["text"] for b in body["blocks"] if b["type"] == "context" for e in b["elements"])


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_pagerduty_trigger_matches_the_events_v2_schema(severity):
    a = alert(severity=severity, user="x" * 1020)  # the summary would exceed 1024 characters
    event = json.loads(pagerduty.render(notification(a), cfg("pager"), LINKS, NOW).body)
    assert check_pagerduty_event(event) == []
    assert event["event_action"] == "trigger" and event["dedup_key"] == a.alert.id
    assert event["routing_key"] == "R0TESTKEY" and len(event["payload"]["summary"]) <= 1024


def test_pagerduty_resolve_when_the_alert_resolves():
    event = json.loads(
        pagerduty.render(notification(alert(status="resolved"), status="resolved"), cfg("pager"), LINKS, NOW).body
    )
    assert check_pagerduty_event(event) == []
    assert event == {"routing_key": "R0TESTKEY", "event_action": "resolve", "dedup_key": alert().alert.id}


def test_the_schema_check_itself_rejects_bad_events():
    assert check_pagerduty_event(
        {"event_action": "trigger", "dedup_key": "x" * 256, "payload": {"summary": "", "severity": "high"}}
    ) == [
        "routing_key: required string",
        "dedup_key: string of at most 255 characters",
        "payload.summary: required string of at most 1024 characters",
        "payload.source: required string",
        "payload.severity: must be critical, error, warning or info",
    ]


def test_pagerduty_refuses_a_group_of_alerts():
    with pytest.raises(ValueError, match="exactly one alert"):
        pagerduty.render(notification(alert(user="a"), alert(user="b")), cfg("pager"), LINKS, NOW)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"kind": "webhook", "url": "http://x"}, "needs secret"),
        ({"kind": "webhook", "url": "http://x", "secret": "hunter2hunter2hunter2hunter2"}, "whsec_"),
        ({"kind": "webhook", "url": "http://x", "secret": "whsec_!!!"}, "base64"),
        ({"kind": "slack"}, "needs url"),
        ({"kind": "pagerduty"}, "needs routing_key"),
    ],
)
def test_receiver_settings_say_what_is_missing_without_printing_secrets(given, says):
    with pytest.raises(ConfigError, match=says) as err:
        DeliverySettings.model_validate({"receivers": {"r": given}}).check()
    assert "hunter2" not in str(err.value) and "!!!" not in str(err.value) and "http://x" not in str(err.value)


def test_secrets_never_show_in_repr_or_dumps():
    settings = DeliverySettings.model_validate(
        {"receivers": receivers(chat="https://hooks.slack.com/services/T/B/XYZ")}
    )
    text = repr(settings) + str(settings.model_dump()) + settings.model_dump_json()
    assert "XYZ" not in text and "R0TESTKEY" not in text and SECRET not in text
    assert settings.receivers["pager"].pages and not settings.receivers["chat"].pages
    assert isinstance(settings.receivers["pager"].url, SecretStr)
