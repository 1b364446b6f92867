"""Staff access audit: an employee opening customer data, one JSON object per line (see README).

ECS category: `database`. The employee reads, exports or changes records held for a customer
(documents, invoices, ...), which is what ECS files under database activity (types access and
change). It is not `iam` (no identity or permission changes), not `web` (that would describe the
HTTP transport of the admin tool, not the data access) and not `file` (resources are application
records, not files on a host). ECS allows no `deletion` type under `database`, so a delete is a
`change`; the exact verb stays in `secmon.staff_access.action`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from pipeline.normalizers.base import (
    Normalizer,
    ParseError,
    ParseOptions,
    RawRecord,
    decode_utf8,
    load_json_object,
    validate,
)
from schemas.bounds import CutAtBounds
from schemas.event import Endpoint, Event, EventMeta, Organization, Related, Secmon, Session, StaffAccess, User
from schemas.ids import event_id, record_key
from schemas.types import IP, Keyword, UtcDatetime

DATASET = "staff.access"
MAX_LONG = 2**63 - 1  # Elasticsearch `long`: a larger count would be rejected by the index
EVENT_TYPES = {"read": ["access"], "export": ["access"], "update": ["change"], "delete": ["change"]}
_IP = TypeAdapter(IP)
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_LONG)]


class StaffAccessRecord(CutAtBounds):
    """One staff access to customer data as the admin tool logs it (unknown keys are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    timestamp: UtcDatetime = Field(description="ISO 8601 instant with offset.")
    employee: Keyword = Field(min_length=1, description="Employee user name or e-mail.")
    employee_id: Keyword = Field(min_length=1, description="Stable employee id.")
    workspace: Keyword = Field(min_length=1, description="Customer workspace whose data was opened.")
    resource: Keyword = Field(min_length=1, description="What was opened, e.g. workspace/documents.")
    action: Literal["read", "export", "update", "delete"] = Field(description="What the employee did.")
    record_count: Count = Field(description="Records touched (>= 0).")
    ticket_id: Keyword | None = Field(None, description="Support ticket or justification id.")
    justification: str | None = Field(None, max_length=8192, description="Free-text reason given.")
    source_ip: Keyword | None = Field(
        None, min_length=1, description="Employee's client IP (a host name is tolerated)."
    )
    session_id: Keyword | None = Field(None, description="Admin tool session id.")


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One JSON line -> one staff data access event."""
    text = decode_utf8(record.data)
    access = validate(StaffAccessRecord, load_json_object(text))
    return [_to_event(access, _source(access.source_ip), record, text if options.keep_original else None)]


def _source(address: str | None) -> Endpoint | None:
    """The client as an IP (canonical form), or as a host name when the log gave a name."""
    if address is None:
        return None
    try:
        ip = _IP.validate_python(address)
    except ValidationError:
        if _HOSTNAME.fullmatch(address) is None or address.rstrip(".").rsplit(".", 1)[-1].isdigit():
            raise ParseError(
                "invalid_field", f"source_ip: {address[:60]!r} is neither an IP address nor a host name"
            ) from None
        return Endpoint(domain=address.rstrip(".").lower(), address=address)
    return Endpoint(ip=ip, address=ip)


def _to_event(a: StaffAccessRecord, source: Endpoint | None, record: RawRecord, original: str | None) -> Event:
    ticket = f" (ticket {a.ticket_id})" if a.ticket_id else " (no ticket)"
    return Event(
        timestamp=a.timestamp,
        message=f"{a.employee} {a.action} {a.record_count} record{'' if a.record_count == 1 else 's'} of {a.resource} "
        f"in {a.workspace}{ticket}",
        event=EventMeta(
            id=event_id(record_key(record.origin, record.data), 0),
            category=["database"],
            type=EVENT_TYPES[a.action],
            action="staff_data_access",
            dataset=DATASET,
            module="staff_access",
            provider="admin",
            created=record.received,
            original=original,
        ),
        source=source,
        user=User(name=a.employee, id=a.employee_id),
        organization=Organization(id=a.workspace),
        related=Related(
            ip=[source.ip] if source and source.ip else [],
            user=[a.employee],
            hosts=[source.domain] if source and source.domain else [],
        ),
        secmon=Secmon(
            origin=record.origin,
            session=Session(id=a.session_id) if a.session_id else None,
            staff_access=StaffAccess(
                resource=a.resource,
                action=a.action,
                record_count=a.record_count,
                ticket_id=a.ticket_id,
                justification=a.justification,
            ),
        ),
    )


_SNIFF_KEYS = (b'"employee"', b'"employee_id"', b'"record_count"', b'"resource"')


def _sniff(first: bytes) -> bool:
    return first.lstrip().startswith(b"{") and all(key in first for key in _SNIFF_KEYS)


NORMALIZER = Normalizer(
    id="staff_access", title="Staff access to customer data (JSON lines)", framing="line", parse=parse, sniff=_sniff
)
