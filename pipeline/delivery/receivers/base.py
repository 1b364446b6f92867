"""What every receiver shares: the notification it renders, the HTTP request it renders to, links.

Receivers turn a notification into one HTTP request; sending and retrying live in delivery.retry.
One module per receiver kind (file stem == kind), each with `render(notification, cfg, links, now)`,
registered in `receivers.registry`. A renderer is pure: no I/O, no clock reads (`now` is passed in
for the signature timestamp).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Literal
from urllib.parse import quote

from schemas.alert import Alert

USER_AGENT = "secmon-delivery/1"


@dataclass(frozen=True)
class HttpRequest:
    """A POST to make: URL (may hold a credential: never log it), headers, exact body bytes."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Notification:
    """One message to one receiver about a group of alerts; its id is stable across retries.

    The alerts come as their documents (`Alert.to_doc()`, validated when they entered delivery),
    as the group keeps them: the webhook sends them as they are; `alerts` validates them into
    models once, for the renderers that read fields."""

    id: str
    receiver: str
    route: str
    group_key: str
    group_labels: dict[str, str]
    status: Literal["firing", "resolved"]
    docs: list[dict[str, Any]]
    changed: list[str] = field(default_factory=list)
    truncated: int = 0
    created: float = 0.0

    @cached_property
    def alerts(self) -> list[Alert]:
        """The alerts as models."""
        return [Alert.model_validate(d) for d in self.docs]


@dataclass(frozen=True)
class Links:
    """How to link back to the alerts (Kibana Discover), from delivery settings."""

    kibana_url: str | None = None
    data_view: str = "secmon-alerts"

    def discover(self, alerts: list[Alert]) -> str | None:
        """A Discover URL showing these alerts (by id, around their time), or None without kibana_url."""
        if not self.kibana_url or not alerts:
            return None
        ids = " or ".join(f'"{a.alert.id}"' for a in alerts[:50])
        start = min(a.alert.first_seen for a in alerts) - timedelta(minutes=15)
        end = max(a.alert.last_seen for a in alerts) + timedelta(minutes=15)
        g = f"(time:(from:{_rison(_iso(start))},to:{_rison(_iso(end))}))"
        a = (
            f"(dataSource:(dataViewId:{_rison(self.data_view)},type:dataView),"
            f"query:(language:kuery,query:{_rison(f'alert.id:({ids})')}))"
        )
        safe = "(),:'!*"
        return f"{self.kibana_url.rstrip('/')}/app/discover#/?_g={quote(g, safe=safe)}&_a={quote(a, safe=safe)}"


Renderer = Callable[[Notification, Any, Links, float], HttpRequest]  # Any: the kind's ReceiverSettings


def entity_of(alert: Alert) -> str:
    """What the alert is about, in a few words (user, source IP, host, workspace or its dedup key)."""
    for value in (alert.user and alert.user.name, alert.source and alert.source.ip, alert.host and alert.host.name):
        if value:
            return str(value)
    return alert.alert.dedup_key


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _rison(text: str) -> str:
    """A Rison string literal (Kibana's URL state format): quoted, with ! and ' escaped by !."""
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"
