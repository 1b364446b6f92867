"""The generic webhook payload: one notification about a group of alerts, versioned.

The body follows the Standard Webhooks layout (`type`, `timestamp`, `data`) and is signed per
that spec (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`). `webhook-id` equals
`data.notification_id`: it is the same on every retry of one notification, so a receiver drops a
repeat by remembering the ids it has processed. `python -m schemas.webhook` rewrites the JSON
Schema in `schemas/generated/webhook.schema.json`; a test fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from schemas.alert import Alert
from schemas.base import Strict
from schemas.types import Keyword, UtcDatetime

PAYLOAD_VERSION: Literal[1] = 1
SCHEMA_FILE = Path(__file__).parent / "generated" / "webhook.schema.json"
EventType = Literal["secmon.alerts.firing", "secmon.alerts.resolved"]


class NotificationData(Strict):
    """What a receiver is told: the group, its alerts, and which of them are new or changed."""

    notification_id: Keyword = Field(description="Stable id of this notification (== webhook-id header).")
    receiver: Keyword = Field(description="Configured receiver name.")
    route: Keyword = Field(description="Id of the routing-tree node that chose the receiver.")
    status: Literal["firing", "resolved"] = Field(description="resolved only when every alert is resolved.")
    group_key: Keyword = Field(description="Route, receiver and group label values; stable for the group.")
    group_labels: dict[str, str] = Field(default_factory=dict, description="Values of the route's group_by labels.")
    alerts: list[Alert] = Field(description="The group's alerts, latest first (event ids trimmed to the latest 10).")
    changed_alert_ids: list[Keyword] = Field(
        default_factory=list, description="Alerts new, grown or resolved since the last notification."
    )
    truncated_alerts: int = Field(0, ge=0, description="Alerts of the group left out of `alerts` to bound the size.")
    kibana_url: str | None = Field(None, description="Kibana Discover link showing these alerts.")


class WebhookPayload(Strict):
    """The JSON body POSTed to a generic webhook receiver (schema version 1)."""

    version: Literal[1] = Field(PAYLOAD_VERSION, description="Payload schema version; bumped on breaking changes.")
    type: EventType = Field(description="secmon.alerts.firing or secmon.alerts.resolved.")
    timestamp: UtcDatetime = Field(description="When the notification was created (stable across retries).")
    data: NotificationData = Field(description="The notification.")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the payload, for receivers that validate what they get."""
    return WebhookPayload.model_json_schema(by_alias=True, mode="serialization")


def write_schema(path: Path = SCHEMA_FILE) -> Path:
    """Write the payload's JSON Schema (committed; a test checks it is fresh)."""
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema(), file=sys.stderr)
