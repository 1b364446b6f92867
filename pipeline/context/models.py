"""The context tables' rows: users, assets, tickets and allowed ports, validated at load.

Each row model is strict about its keys (an unknown column or key is an error, not ignored) and
checks what detectors rely on later: working hours and days parse, the timezone exists, a ticket's
validity window has a timezone and ends after it starts. `key` is the row's id: the Kafka message
key on the compacted topic and the identity a later row with the same id replaces.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detectors.rules._staff import timezone as parse_timezone
from detectors.rules._staff import working_days, working_hours
from schemas.types import Keyword, UtcDatetime

TableName = Literal["users", "assets", "tickets", "ports", "workspaces"]
TABLES: tuple[TableName, ...] = ("users", "assets", "tickets", "ports", "workspaces")
_PORT_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")


class Row(BaseModel):
    """Base of every context row: unknown fields are errors, rows are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @property
    def key(self) -> str:
        """The row's id (the compacted topic's message key)."""
        raise NotImplementedError


class UserRow(Row):
    """A person: an employee (staff) or a customer's user."""

    id: Keyword = Field(min_length=1, description="Stable user or employee id (user.id in events).")
    name: Keyword = Field(min_length=1, description="User name as events name them (user.name), often an e-mail.")
    email: Keyword | None = Field(None, description="E-mail address, when it differs from name.")
    team: Keyword | None = Field(None, description="Team (staff) or customer workspace id.")
    role: Keyword | None = Field(None, description="Role, e.g. support, billing, owner.")
    employee: bool = Field(False, description="One of our employees (staff), not a customer's user.")
    team_admin: bool = Field(False, description="Administers their team or workspace.")
    mfa_required: bool | None = Field(None, description="Policy requires MFA for this user.")
    working_hours: Keyword | None = Field(
        None, description="Usual hours, local time, HH:MM-HH:MM (may cross midnight)."
    )
    working_days: Keyword | None = Field(None, description="Usual days, e.g. Mon-Fri or Mon,Wed,Sat (default Mon-Fri).")
    timezone: Keyword | None = Field(None, description="IANA timezone of the hours, e.g. Europe/Berlin.")
    usual_daily_records: int | None = Field(None, ge=0, description="Customer records usually read per day (staff).")

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            working_hours(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        if value is not None:
            working_days(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timezone(value)
        return value

    @model_validator(mode="after")
    def _hours_need_a_timezone(self) -> UserRow:
        if self.working_hours is not None and self.timezone is None:
            raise ValueError("working_hours need a timezone (e.g. Europe/Berlin): local hours mean nothing without one")
        return self

    @property
    def key(self) -> str:
        """The user id."""
        return self.id


class AssetRow(Row):
    """A server or other host: who owns it and how it must be protected."""

    host: Keyword = Field(
        min_length=1, description="Host name as events name it (host.name); matched case-insensitively."
    )
    owner: Keyword | None = Field(None, description="Owning team or person.")
    environment: Keyword | None = Field(None, description="production, staging, development...")
    criticality: Literal["low", "medium", "high", "critical"] = Field("medium", description="Business criticality.")
    requires_2fa: bool = Field(False, description="Logins must use a second factor.")

    @field_validator("host")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower().rstrip(".")

    @property
    def key(self) -> str:
        """The host name (lower case)."""
        return self.host


class TicketRow(Row):
    """A support ticket or other justification for an employee to open one workspace's data."""

    id: Keyword = Field(min_length=1, description="Ticket id, e.g. SUP-48213.")
    employee: Keyword = Field(min_length=1, description="Employee user name, e-mail or id.")
    workspace: Keyword = Field(min_length=1, description="Customer workspace (organization.id) it covers.")
    valid_from: UtcDatetime = Field(description="Start of validity, ISO 8601 with offset.")
    valid_to: UtcDatetime = Field(description="End of validity (inclusive), ISO 8601 with offset.")
    summary: str | None = Field(None, max_length=1024, description="What the ticket is about.")

    @model_validator(mode="after")
    def _window(self) -> TicketRow:
        if self.valid_to <= self.valid_from:
            raise ValueError(
                f"valid_to {self.valid_to.isoformat()} is not after valid_from {self.valid_from.isoformat()}"
            )
        return self

    def covers(self, at: datetime) -> bool:
        """True when `at` lies within the validity window."""
        return self.valid_from <= at <= self.valid_to

    @property
    def key(self) -> str:
        """The ticket id."""
        return self.id


class PortRange(BaseModel):
    """An inclusive port range of one protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["tcp", "udp", "all"]
    first: int = Field(ge=0, le=65535)
    last: int = Field(ge=0, le=65535)

    def covers(self, port: int, protocol: str = "tcp") -> bool:
        """True when `port` of `protocol` is inside this range."""
        return self.first <= port <= self.last and self.protocol in ("all", protocol)


class PortsRow(Row):
    """Ports a security group (by id) or every group carrying a tag may open to the internet."""

    id: Keyword = Field(min_length=1, description="Row id, e.g. web-tier.")
    group_id: Keyword | None = Field(None, description="Security group id, e.g. sg-0a1b2c.")
    tag: Keyword | None = Field(None, description="Tag (key=value or a bare name) of the groups it covers.")
    protocol: Literal["tcp", "udp", "all"] = Field("tcp", description="Protocol of the ports.")
    ports: list[PortRange] = Field(
        min_length=1,
        description="Ports and ranges: `443`, `8000-8100`; a list, or one cell separated by `;`, `,` or spaces.",
    )

    @model_validator(mode="before")
    @classmethod
    def _parse_ports(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "ports" not in data:
            return data
        raw = data["ports"]
        items = re.split(r"[;,\s]+", raw.strip()) if isinstance(raw, str) else raw
        protocol = data.get("protocol") or "tcp"
        return {**data, "ports": [_port_range(item, protocol) for item in items if item not in ("", None)]}

    @model_validator(mode="after")
    def _one_target(self) -> PortsRow:
        if (self.group_id is None) == (self.tag is None):
            raise ValueError("give exactly one of group_id or tag")
        return self

    @property
    def key(self) -> str:
        """The row id."""
        return self.id


def _port_range(item: Any, protocol: str) -> Any:
    """`443` or `8000-8100` -> a PortRange mapping; anything else is left for validation to reject."""
    if isinstance(item, int) and not isinstance(item, bool):
        return {"protocol": protocol, "first": item, "last": item}
    match = _PORT_RANGE.match(str(item).strip())
    if match is None:
        raise ValueError(f"port {item!r} is not a port or a range like 8000-8100")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first:
        raise ValueError(f"port range {item!r} ends before it starts")
    return {"protocol": protocol, "first": first, "last": last}


class WorkspaceRow(Row):
    """A customer workspace (organization.id) and the sign-in policy it chose."""

    id: Keyword = Field(min_length=1, description="Workspace id (organization.id in events).")
    plan: Keyword | None = Field(None, description="Plan, e.g. free, team, enterprise.")
    app_mfa_required: bool = Field(
        False,
        description="Sign-ins need a second factor in the app itself: an SSO "
        "sign-in whose identity provider did the MFA does not count.",
    )

    @property
    def key(self) -> str:
        """The workspace id."""
        return self.id


ROW_MODELS: dict[str, type[Row]] = {
    "users": UserRow,
    "assets": AssetRow,
    "tickets": TicketRow,
    "ports": PortsRow,
    "workspaces": WorkspaceRow,
}
