"""Generic JSON webhook: the versioned payload of schemas/webhook.py, signed per Standard Webhooks.

Headers: `webhook-id` (the notification id, stable across retries), `webhook-timestamp` (Unix
seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed by the base64-decoded part of the `whsec_` secret.
The body is identical on every attempt; only the timestamp and signature change.

The body is the payload model's JSON, built without validating the alerts again: the envelope
from the model (so its formats are the model's), the alert documents as the group holds them
(what `Alert.to_doc()` made of them when they entered delivery; the same JSON the model writes).
"""

from __future__ import annotations

import base64
import hmac
from datetime import datetime, timezone
from functools import lru_cache

from pydantic import SecretStr

from pipeline.delivery.config import ReceiverSettings, signing_key
from pipeline.delivery.receivers.base import USER_AGENT, HttpRequest, Links, Notification
from pipeline.kafka.codec import dumps
from schemas.webhook import NotificationData, WebhookPayload


def payload(notification: Notification, links: Links) -> WebhookPayload:
    """The payload model for a notification."""
    return _payload(notification, links, notification.alerts)


def body(notification: Notification, links: Links) -> bytes:
    """The payload's JSON bytes: `payload(...).model_dump_json(by_alias=True, exclude_none=True)`,
    at a fraction of the cost (one notification per alert makes this the hot path)."""
    doc = _payload(notification, links, []).to_doc()
    doc["data"]["alerts"] = notification.docs  # in the key's place: the order stays the model's
    return dumps(doc)


def _payload(notification: Notification, links: Links, alerts: list) -> WebhookPayload:
    n = notification
    return WebhookPayload(
        type="secmon.alerts.resolved" if n.status == "resolved" else "secmon.alerts.firing",
        timestamp=datetime.fromtimestamp(n.created, tz=timezone.utc),
        data=NotificationData(
            notification_id=n.id,
            receiver=n.receiver,
            route=n.route,
            status=n.status,
            group_key=n.group_key,
            group_labels=n.group_labels,
            alerts=alerts,
            changed_alert_ids=n.changed,
            truncated_alerts=n.truncated,
            kibana_url=links.discover(n.alerts) if links.kibana_url else None,
        ),
    )


def sign(msg_id: str, timestamp: int, body: bytes, key: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    mac = hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, "sha256")
    return "v1," + base64.b64encode(mac).decode("ascii")


def render(notification: Notification, cfg: ReceiverSettings, links: Links, now: float) -> HttpRequest:
    """The signed POST for one attempt."""
    assert cfg.url is not None and cfg.secret is not None  # guaranteed by ReceiverSettings validation
    content = body(notification, links)
    timestamp = int(now)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": notification.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(notification.id, timestamp, content, _key(cfg.secret)),
    }
    return HttpRequest(url=cfg.url.get_secret_value(), headers=headers, body=content)


@lru_cache(maxsize=64)
def _key(secret: SecretStr) -> bytes:
    """The signing key of a secret, decoded once (receivers are few; a secret is checked at startup)."""
    return signing_key(secret)
