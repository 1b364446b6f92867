"""The SaaS application's session-revocation endpoint: "sign out all devices" of one account.

Signed like our webhooks (Standard Webhooks: webhook-id = the sign-out request id, so the
application can drop a repeat, webhook-timestamp, webhook-signature v1 HMAC-SHA256). Pure: the
request of one attempt from the action, the URL, the key and the attempt's time.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.delivery.receivers.base import USER_AGENT, HttpRequest
from pipeline.delivery.receivers.webhook import sign

EVENT_TYPE = "secmon.sessions.revoke"


def body(action: dict[str, Any]) -> bytes:
    """The JSON body: what to revoke and on whose behalf (identical on every attempt)."""
    data = {k: action[k] for k in ("request_id", "workspace", "user", "actor", "requested_at")}
    return json.dumps({"type": EVENT_TYPE, "data": data}, separators=(",", ":"), sort_keys=True).encode()


def render(action: dict[str, Any], url: str, key: bytes, now: float) -> HttpRequest:
    """The signed POST of one attempt."""
    payload, timestamp = body(action), int(now)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": action["request_id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(action["request_id"], timestamp, payload, key),
    }
    return HttpRequest(url=url, headers=headers, body=payload)
