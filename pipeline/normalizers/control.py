"""Control events: backups, restore tests, deletions, legal holds and remote sign-outs (JSON lines).

These prove the operational promises (backups on time, restores tested, deletions done within
their deadline, deleted data gone from the backups once their snapshots are pruned). The format is
ours and documented in README; which statuses a kind may have and which fields it needs are data
(STATUSES, REQUIRED) so the README table and the code agree.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

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
from schemas.event import Control, Event, EventMeta, Organization, Related, Secmon, User, UserTarget
from schemas.ids import event_id, record_key
from schemas.types import Keyword, UtcDatetime

DATASET = "control.events"
MAX_LONG = 2**63 - 1  # Elasticsearch `long`
Kind = Literal["backup", "restore_test", "deletion", "legal_hold", "signout_all"]
Status = Literal["started", "succeeded", "failed", "deleted", "requested", "completed", "opened", "closed", "executed"]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_LONG)]

STATUSES: dict[str, tuple[str, ...]] = {
    "backup": ("started", "succeeded", "failed", "deleted"),
    "restore_test": ("started", "succeeded", "failed"),
    "deletion": ("requested", "completed", "failed"),
    "legal_hold": ("opened", "closed"),
    "signout_all": ("executed",),
}
# Fields without which the event cannot be correlated (job start/end) or attributed.
REQUIRED: dict[str, tuple[str, ...]] = {
    "backup": ("job_id",),
    "restore_test": ("job_id",),
    "deletion": ("job_id", "workspace"),
    "legal_hold": ("incident_id",),
    "signout_all": ("user", "actor"),
}
OUTCOMES = {
    "failed": "failure",
    "succeeded": "success",
    "deleted": "success",
    "completed": "success",
    "executed": "success",
}
TYPES = {
    ("backup", "deleted"): ["deletion"],
    ("deletion", "completed"): ["deletion"],
    ("legal_hold", "opened"): ["creation"],
    ("legal_hold", "closed"): ["deletion"],
    ("signout_all", "executed"): ["user", "change"],
}


class Details(CutAtBounds):
    """The known keys of `details`; any other key is ignored, never indexed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    documents: Count | None = Field(None, description="Documents backed up, restored or deleted.")
    indices: Count | None = Field(None, description="Indices backed up, restored or deleted.")
    snapshot: Keyword | None = Field(None, description="Snapshot name.")
    taken_at: UtcDatetime | None = Field(None, description="When the snapshot was taken (backup deleted).")


class ControlRecord(CutAtBounds):
    """One control event as the job runner or admin console logs it (unknown keys are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    timestamp: UtcDatetime = Field(description="ISO 8601 instant with offset.")
    kind: Kind = Field(description="What control this is.")
    status: Status = Field(description="Where it stands; allowed values depend on kind.")
    job_id: Keyword | None = Field(None, min_length=1, description="Job, request or hold id.")
    workspace: Keyword | None = Field(None, min_length=1, description="Customer workspace concerned.")
    user: Keyword | None = Field(None, min_length=1, description="Operator; signout_all: the account signed out.")
    actor: Keyword | None = Field(None, min_length=1, description="Who (or which system) did it.")
    incident_id: Keyword | None = Field(None, min_length=1, description="Incident of a legal hold.")
    backup_id: Keyword | None = Field(None, min_length=1, description="Backup or snapshot concerned.")
    reason: str | None = Field(None, max_length=8192, description="Failure or hold reason.")
    requested_at: UtcDatetime | None = Field(None, description="When a deletion was requested.")
    details: Details | None = Field(None, description="Counts, snapshot name and when it was taken.")


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One JSON line -> one control event; a status the kind cannot have is invalid_field."""
    text = decode_utf8(record.data)
    control = validate(ControlRecord, load_json_object(text))
    _check(control)
    return [_to_event(control, record, text if options.keep_original else None)]


def _check(c: ControlRecord) -> None:
    """Raise invalid_field when the kind/status pair or a field the kind needs is wrong."""
    if c.status not in STATUSES[c.kind]:
        raise ParseError(
            "invalid_field", f"status: {c.kind} cannot be {c.status!r}; expected one of {', '.join(STATUSES[c.kind])}"
        )
    missing = [name for name in REQUIRED[c.kind] if getattr(c, name) is None]
    if c.kind == "deletion" and c.status == "completed" and c.requested_at is None:
        missing.append("requested_at")
    if missing:
        raise ParseError("invalid_field", f"{', '.join(missing)}: required for {c.kind} {c.status}")
    if c.requested_at is not None and c.requested_at > c.timestamp:
        raise ParseError("invalid_field", "requested_at: later than timestamp")


def _to_event(c: ControlRecord, record: RawRecord, original: str | None) -> Event:
    backup_id = c.backup_id or (c.details.snapshot if c.details else None)
    return Event(
        timestamp=c.timestamp,
        message=_message(c),
        event=EventMeta(
            id=event_id(record_key(record.origin, record.data), 0),
            kind="event",
            category=["iam"] if c.kind == "signout_all" else ["configuration"],
            type=TYPES.get((c.kind, c.status), ["info"]),
            action=f"{c.kind}_{c.status}",
            outcome=OUTCOMES.get(c.status, "unknown"),
            reason=_keyword(c.reason),
            dataset=DATASET,
            module="control",
            provider="control",
            created=record.received,
            original=original,
        ),
        user=_user(c),
        organization=Organization(id=c.workspace) if c.workspace else None,
        related=Related(user=list(dict.fromkeys(u for u in (c.user, c.actor) if u))),
        secmon=Secmon(
            origin=record.origin,
            control=Control(
                kind=c.kind,
                status=c.status,
                job_id=c.job_id,
                incident_id=c.incident_id,
                backup_id=backup_id,
                reason=c.reason,
                requested_at=c.requested_at,
            ),
        ),
    )


def _user(c: ControlRecord) -> User | None:
    """signout_all: the admin acts on the account; otherwise the operator (else the actor) acts."""
    if c.kind == "signout_all":
        return User(name=c.actor, target=UserTarget(name=c.user))
    name = c.user or c.actor
    return User(name=name) if name else None


def _keyword(text: str | None) -> str | None:
    """event.reason is a keyword: keep short reasons there, long ones only in secmon.control.reason."""
    return text if text is not None and len(text) <= 1024 else None


def _message(c: ControlRecord) -> str:
    parts = [f"{c.kind} {c.status}"]
    parts += [
        f"{label} {value}"
        for label, value in (
            ("job", c.job_id),
            ("workspace", c.workspace),
            ("user", c.user),
            ("by", c.actor),
            ("incident", c.incident_id),
            ("backup", c.backup_id),
        )
        if value
    ]
    if c.details is not None:
        parts += [
            f"{label} {value}"
            for label, value in (
                ("documents", c.details.documents),
                ("indices", c.details.indices),
                ("snapshot", c.details.snapshot),
            )
            if value is not None
        ]
        if c.details.taken_at is not None:
            parts.append(f"taken {c.details.taken_at.isoformat().replace('+00:00', 'Z')}")
    if c.reason:
        parts.append(f"reason: {c.reason[:200]}")
    return ", ".join(parts)


_SNIFF = re.compile(rb'"kind"\s*:\s*"(?:backup|restore_test|deletion|legal_hold|signout_all)"')


def _sniff(first: bytes) -> bool:
    return first.lstrip().startswith(b"{") and b'"status"' in first and _SNIFF.search(first) is not None


NORMALIZER = Normalizer(
    id="control",
    title="Control events: backups, restores, deletions, holds, sign-outs (JSON lines)",
    framing="line",
    parse=parse,
    sniff=_sniff,
)
