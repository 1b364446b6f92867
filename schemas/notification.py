"""The notification history document (`<prefix>-notifications-YYYY.MM.DD`): one per delivery
attempt, and one per alert and receiver not sent (silenced, suppressed).

Documents written before `schema_version` existed read as version 1 (the default): same fields,
same meaning.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.types import Keyword, Text, UtcDatetime

Kind = Literal["attempt", "silenced", "suppressed"]
Outcome = Literal["delivered", "retry", "failed", "dead_letter", "silenced", "suppressed"]


class NotificationRecord(Strict):
    """One history document."""

    timestamp: UtcDatetime = Field(alias="@timestamp", description="When it happened.")
    kind: Kind = Field(description="attempt, silenced or suppressed.")
    outcome: Outcome = Field(description="delivered, retry, failed (permanent), dead_letter, silenced, suppressed.")
    receiver: Keyword = Field(description="Receiver name.")
    receiver_kind: Keyword = Field(description="webhook, slack or pagerduty.")
    route: Keyword = Field(description="Routing-tree node id.")
    group_key: Keyword = Field(description="The aggregation group.")
    notification_id: Keyword | None = Field(None, description="Notification id (== webhook-id) for attempts.")
    attempt: int | None = Field(None, description="Attempt number, from 1.")
    status_code: int | None = Field(None, description="HTTP status, when a response came back.")
    latency_ms: float | None = Field(None, description="Duration of the attempt.")
    error: Text | None = Field(None, description="What went wrong (never a URL or secret).")
    next_attempt_at: UtcDatetime | None = Field(None, description="When a retry is scheduled.")
    silence_id: Keyword | None = Field(None, description="The silence that muted the alert.")
    alert_ids: list[Keyword] = Field(default_factory=list, description="Alerts carried (or muted).")
    alert_counts: list[int] = Field(default_factory=list, description="Their counts, in the same order.")
    rule_ids: list[Keyword] = Field(default_factory=list, description="Their rules.")
    schema_version: int = Field(SCHEMA_VERSION, description="Version of this record's schema.")
