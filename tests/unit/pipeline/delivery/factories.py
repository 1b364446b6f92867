"""Factories for delivery tests: alerts, receivers and routes with defaults, so a test states only
what it checks."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.delivery.config import DeliverySettings
from pipeline.delivery.routing import RoutingTree, load_routes
from schemas.alert import Alert

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
# every alert its own group, sent at once to the webhook `hook`: one page per alert id
HOOK_PER_ALERT = """
route:
  receiver: hook
  group_by: [alert_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
"""
ROUTES = """
teams:
  identity: [signin_*]
  platform: [delivery_failed]
route:
  receiver: hook
  group_by: [rule, workspace]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['team="platform"']
      receiver: chat
    - matchers: ['severity=~"high|critical"']
      receiver: pager
      continue: true
    - matchers: ['workspace="ws-quiet"']
      receiver: chat
      group_by: [workspace]
      group_wait: 30s
"""


def alert(
    rule: str = "signin_bruteforce_user",
    severity: str = "high",
    maturity: str = "stable",
    workspace: str | None = "ws-acme",
    user: str = "bob@acme.example",
    count: int = 1,
    status: str = "open",
    tags: tuple[str, ...] = ("attack.t1110",),
    at: datetime = T0,
    alert_id: str | None = None,
    events: int = 3,
) -> Alert:
    """A valid alert; its id derives from rule + user unless given."""
    aid = alert_id or hashlib.blake2b(f"{rule}|{user}".encode(), digest_size=16).hexdigest()
    doc: dict[str, Any] = {
        "@timestamp": at + timedelta(seconds=count - 1),
        "message": f"{count} findings for user {user}",
        "rule": {"id": rule, "name": f"Rule {rule}", "version": 1, "maturity": maturity, "tags": list(tags)},
        "alert": {
            "id": aid,
            "status": status,
            "severity": severity,
            "dedup_key": user,
            "count": count,
            "first_seen": at,
            "last_seen": at + timedelta(seconds=count - 1),
        },
        "user": {"name": user},
        "secmon": {"event_ids": [f"e{i}" for i in range(events)], "event_count": events, "datasets": ["app.signin"]},
    }
    if workspace:
        doc["organization"] = {"id": workspace}
    return Alert.model_validate(doc)


def receivers(**urls: str) -> dict[str, dict[str, Any]]:
    """Receiver settings: hook (webhook), chat (slack), pager (pagerduty); pass name=url to point them."""
    out = {
        "hook": {"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET},
        "chat": {"kind": "slack", "url": "http://127.0.0.1:9/chat"},
        "pager": {"kind": "pagerduty", "url": "http://127.0.0.1:9/pd", "routing_key": "R0TESTKEY"},
    }
    for name, url in urls.items():
        out[name]["url"] = url
    return out


def settings(tmp_path: Path, routes: str = ROUTES, **overrides: Any) -> DeliverySettings:
    """DeliverySettings with the routes written to tmp_path and fast retries."""
    path = tmp_path / "routes.yaml"
    path.write_text(routes, encoding="utf-8")
    base: dict[str, Any] = {
        "routes_file": str(path),
        "receivers": receivers(),
        "kibana_url": "https://kibana.example",
        "timeout_seconds": 2.0,
        "retry": {
            "initial_backoff_seconds": 0.05,
            "max_backoff_seconds": 0.2,
            "max_attempts": 6,
            "budget_seconds": 30,
            "breaker_failures": 3,
            "breaker_cooldown_seconds": 0.3,
        },
    }
    base.update(overrides)
    return DeliverySettings.model_validate(base)


def tree(cfg: DeliverySettings) -> RoutingTree:
    """The routing tree of a DeliverySettings."""
    assert cfg.routes_file is not None
    return load_routes(cfg.routes_file, cfg.receivers)
