"""PagerDuty Events API v2: trigger with dedup_key = alert id, resolve when the alert resolves.

PagerDuty deduplicates on `dedup_key` itself, so routes to a PagerDuty receiver group per alert
(routing.py enforces it) and a re-sent trigger only adds a log entry to the open incident.
The routing key is a secret. PagerDuty answers 202; 400 is permanent, 429 and 5xx are retried.
"""

from __future__ import annotations

import json

from pipeline.delivery.config import ReceiverSettings
from pipeline.delivery.receivers.base import USER_AGENT, HttpRequest, Links, Notification, entity_of
from schemas.alert import Alert

SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


def render(notification: Notification, cfg: ReceiverSettings, links: Links, now: float) -> HttpRequest:
    """The POST for one attempt: a trigger, or a resolve for a resolved alert."""
    assert cfg.url is not None and cfg.routing_key is not None  # guaranteed by ReceiverSettings validation
    if len(notification.alerts) != 1:
        raise ValueError(
            f"PagerDuty notifications carry exactly one alert, got {len(notification.alerts)}; "
            "routes to a pagerduty receiver must group per alert"
        )
    event = build_event(notification.alerts[0], cfg.routing_key.get_secret_value(), links)
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    return HttpRequest(
        url=cfg.url.get_secret_value(),
        body=body,
        headers={"content-type": "application/json", "user-agent": USER_AGENT},
    )


def build_event(alert: Alert, routing_key: str, links: Links) -> dict:
    """The Events API v2 body for one alert."""
    if alert.alert.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": alert.alert.id}
    a = alert.alert
    details = {
        "rule": alert.rule.id,
        "rule_version": alert.rule.version,
        "count": a.count,
        "first_seen": a.first_seen.isoformat(),
        "last_seen": a.last_seen.isoformat(),
        "entity": a.dedup_key,
        "tags": alert.rule.tags,
        "event_count": alert.secmon.event_count,
    }
    if alert.organization and alert.organization.id:
        details["workspace"] = alert.organization.id
    event: dict = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": a.id,
        "client": "secmon",
        "payload": {
            "summary": f"[{a.severity}] {alert.message}"[:1024],
            "source": entity_of(alert)[:255],
            "severity": SEVERITY[a.severity],
            "timestamp": a.last_seen.isoformat(),
            "component": alert.rule.id,
            "group": details.get("workspace", "secmon"),
            "class": alert.rule.name,
            "custom_details": details,
        },
    }
    url = links.discover([alert])
    if url:
        event["links"] = [{"href": url, "text": "Alert in Kibana"}]
        event["client_url"] = url
    return event
