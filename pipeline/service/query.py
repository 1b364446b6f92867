"""Access-log queries as data: typed filters -> an Elasticsearch search body; hits -> rows; cursors.

Caller input never becomes query text: ids are pattern-checked and go into `term` queries, dates
are parsed datetimes, the outcome is a Literal. Pages are newest first on (@timestamp, event.id),
a total order, so `search_after` with the last row's sort values is a stable cursor: new sign-ins
sort before it and never shift a later page. (A point in time is used for exports, which read many
pages in one go; one per interactive page would leave an open search context per caller.)
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.normalizers.app_signin import DATASET

Outcome = Literal["success", "failure"]
SOURCE_FIELDS = [
    "@timestamp",
    "event.id",
    "event.outcome",
    "event.reason",
    "user.id",
    "user.name",
    "organization.id",
    "source.ip",
    "source.geo.country_iso_code",
    "source.geo.country_name",
    "source.geo.city_name",
    "user_agent.name",
    "user_agent.version",
    "user_agent.os.name",
    "user_agent.os.version",
    "secmon.device.type",
    "secmon.auth.method",
    "secmon.auth.mfa",
    "secmon.auth.mfa_method",
]
CSV_COLUMNS = [
    "time",
    "outcome",
    "failure_reason",
    "user_id",
    "user",
    "workspace",
    "device_type",
    "browser",
    "os",
    "ip",
    "country",
    "city",
    "auth_method",
    "mfa",
    "mfa_method",
    "id",
]


class CursorError(ValueError):
    """A cursor that this service did not issue (or that was altered)."""


class Scope(BaseModel):
    """What a request may see (set by authorisation) and what it asked for (typed filters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str | None = Field(None, description="Only this user's sign-ins.")
    workspace: str | None = Field(None, description="Only this workspace's sign-ins.")
    since: datetime | None = Field(None, description="From this instant (inclusive).")
    until: datetime | None = Field(None, description="Before this instant (exclusive).")
    outcome: Outcome | None = Field(None, description="Only successes or only failures.")


class Row(BaseModel):
    """One sign-in as the access log shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    time: datetime
    outcome: str | None = None
    failure_reason: str | None = None
    user_id: str | None = None
    user: str | None = None
    workspace: str | None = None
    device_type: str | None = None
    browser: str | None = None
    os: str | None = None
    ip: str | None = None
    country: str | None = None
    city: str | None = None
    auth_method: str | None = None
    mfa: bool | None = None
    mfa_method: str | None = None


def index_pattern(prefix: str) -> str:
    """The sign-in indices (one per day) of a deployment."""
    return f"{prefix}-events-{DATASET}-*"


def search_body(scope: Scope, size: int, after: list[Any] | None = None) -> dict[str, Any]:
    """The search request (body keywords) of one page."""
    if scope.user_id is None and scope.workspace is None:
        raise ValueError("an access-log query needs a user or a workspace scope")
    filters: list[dict[str, Any]] = [{"term": {"event.dataset": DATASET}}]
    if scope.user_id is not None:
        filters.append({"term": {"user.id": scope.user_id}})
    if scope.workspace is not None:
        filters.append({"term": {"organization.id": scope.workspace}})
    if scope.outcome is not None:
        filters.append({"term": {"event.outcome": scope.outcome}})
    span = {k: _iso(v) for k, v in (("gte", scope.since), ("lt", scope.until)) if v is not None}
    if span:
        filters.append({"range": {"@timestamp": span}})
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters}},
        "size": size,
        "track_total_hits": False,
        "sort": [{"@timestamp": {"order": "desc"}}, {"event.id": {"order": "desc"}}],
        "_source": SOURCE_FIELDS,
    }
    if after is not None:
        body["search_after"] = after
    return body


def row(source: dict[str, Any]) -> Row:
    """A hit's _source as a row (nested ECS objects flattened, browser/OS as 'name version')."""
    g = _getter(source)
    return Row(
        id=g("event.id"),
        time=g("@timestamp"),
        outcome=g("event.outcome"),
        failure_reason=g("event.reason"),
        user_id=g("user.id"),
        user=g("user.name"),
        workspace=g("organization.id"),
        device_type=g("secmon.device.type"),
        browser=_join(g("user_agent.name"), g("user_agent.version")),
        os=_join(g("user_agent.os.name"), g("user_agent.os.version")),
        ip=g("source.ip"),
        country=g("source.geo.country_name") or g("source.geo.country_iso_code"),
        city=g("source.geo.city_name"),
        auth_method=g("secmon.auth.method"),
        mfa=g("secmon.auth.mfa"),
        mfa_method=g("secmon.auth.mfa_method"),
    )


def encode_cursor(sort: list[Any]) -> str:
    """An opaque cursor from the last hit's sort values."""
    return base64.urlsafe_b64encode(json.dumps(sort, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort values of a cursor: exactly [epoch millis, event id], else CursorError."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("cursor is not one this service issued; start again without it") from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or type(value[0]) is not int
        or not isinstance(value[1], str)
        or len(value[1]) > 128
    ):
        raise CursorError("cursor is not one this service issued; start again without it")
    return value


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (=, +, -, @ prefixed with ')."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(ts: datetime) -> str:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).isoformat()


def _join(*parts: str | None) -> str | None:
    text = " ".join(p for p in parts if p)
    return text or None


def _getter(source: dict[str, Any]):
    def get(dotted: str) -> Any:
        if dotted in source:
            return source[dotted]
        node: Any = source
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    return get
