"""Evidence of every read and action of the service: the access-audit index, and staff access on Kafka.

Every request that passed authentication leaves one audit document (who, what, which scope,
status, rows). A staff member reading a workspace they do not belong to is also published as a
`staff_access` raw record, the shape the staff-access detectors read (justification, ticket,
record count), so secmon watches its own operators the way it watches the admin tool.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.kafka.codec import origin_header
from pipeline.service.auth import Caller
from schemas.event import Origin

AUDIT_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "@timestamp": {"type": "date"},
        "action": {"type": "keyword"},
        "status": {"type": "short"},
        "caller": {
            "properties": {"id": {"type": "keyword"}, "name": {"type": "keyword"}, "staff": {"type": "boolean"}}
        },
        "workspace": {"type": "keyword"},
        "target_user": {"type": "keyword"},
        "request_id": {"type": "keyword"},
        "rows": {"type": "long"},
        "client_ip": {"type": "ip"},
        "reason": {"type": "keyword"},
        "filters": {"type": "object", "enabled": False},
    },
}


def audit_index(prefix: str) -> str:
    """The service's audit index."""
    return f"{prefix}-access-audit"


async def ensure_audit_index(es: AsyncElasticsearch, prefix: str) -> None:
    """Create the audit index with its strict mapping (already there: fine)."""
    await es.options(ignore_status=400).indices.create(index=audit_index(prefix), mappings=AUDIT_MAPPINGS)


def audit_doc(
    now: datetime,
    action: str,
    status: int,
    caller: Caller | None,
    *,
    workspace: str | None = None,
    target_user: str | None = None,
    request_id: str | None = None,
    rows: int | None = None,
    client_ip: str | None = None,
    reason: str | None = None,
    filters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit document (None fields left out)."""
    doc: dict[str, Any] = {
        "@timestamp": now.isoformat(),
        "action": action,
        "status": status,
        "workspace": workspace,
        "target_user": target_user,
        "request_id": request_id,
        "rows": rows,
        "client_ip": client_ip,
        "reason": reason[:256] if reason else None,
        "filters": filters,
    }
    if caller is not None:
        doc["caller"] = {"id": caller.id, "name": caller.name, "staff": caller.staff}
    return {k: v for k, v in doc.items() if v is not None}


async def write_audit(es: AsyncElasticsearch, prefix: str, doc: dict[str, Any]) -> None:
    """Write one audit document (a fresh id: every request is its own record)."""
    await es.index(index=audit_index(prefix), id=uuid.uuid4().hex, document=doc)


def staff_access_record(
    now: datetime,
    caller: Caller,
    workspace: str,
    action: str,
    rows: int,
    justification: str | None,
    ticket: str | None,
    client_ip: str | None,
) -> dict[str, Any]:
    """The staff_access raw record (pipeline/normalizers/staff_access.py) of a staff read or export."""
    rec = {
        "timestamp": now.isoformat(),
        "employee": caller.name or caller.id,
        "employee_id": caller.id,
        "workspace": workspace,
        "resource": "workspace/access-log",
        "action": action,
        "record_count": rows,
        "ticket_id": ticket,
        "justification": justification,
        "source_ip": client_ip,
    }
    return {k: v for k, v in rec.items() if v is not None}


def staff_origin(record_id: str) -> Origin:
    """A unique origin per staff access, so the event id downstream is stable across re-sends."""
    return Origin(source="staff_access", file="secmon-service", file_id=record_id, offset=0)


def staff_message(record: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The Kafka value and headers of a staff_access record."""
    return json.dumps(record, separators=(",", ":")).encode(), [origin_header(staff_origin(uuid.uuid4().hex))]
