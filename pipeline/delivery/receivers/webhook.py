"""Generic JSON webhook: the versioned payload of schemas/webhook.py, signed per Standard Webhooks.

Headers: `webhook-id` (the notification id, stable across retries), `webhook-timestamp` (Unix
seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed by the base64-decoded part of the `whsec_` secret.
The body is identical on every attempt; only the timestamp and signature change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

from pipeline.delivery.config import ReceiverSettings, signing_key
from pipeline.delivery.receivers.base import USER_AGENT, HttpRequest, Links, Notification
from schemas.webhook import NotificationData, WebhookPayload


def payload(notification: Notification, links: Links) -> WebhookPayload:
    """The payload model for a notification."""
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
            alerts=n.alerts,
            changed_alert_ids=n.changed,
            truncated_alerts=n.truncated,
            kibana_url=links.discover(n.alerts),
        ),
    )


def sign(msg_id: str, timestamp: int, body: bytes, key: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def render(notification: Notification, cfg: ReceiverSettings, links: Links, now: float) -> HttpRequest:
    """The signed POST for one attempt."""
    assert cfg.url is not None and cfg.secret is not None  # guaranteed by ReceiverSettings validation
    body = payload(notification, links).model_dump_json(by_alias=True, exclude_none=True).encode()
    timestamp = int(now)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": notification.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(notification.id, timestamp, body, signing_key(cfg.secret)),
    }
    return HttpRequest(url=cfg.url.get_secret_value(), headers=headers, body=body)
