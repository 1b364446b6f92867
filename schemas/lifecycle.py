"""Documents of the data lifecycle: control events, audit records, deletion receipts, legal holds.

Control events are the JSON lines the `control` normalizer reads (README "Input: control events");
secmon's own lifecycle commands emit them so the compliance detectors see backups, restore
tests, deletions and holds like any other producer's. The other three models are stored in
their own Elasticsearch indices (`<prefix>-audit`, `<prefix>-receipts`, `<prefix>-holds`) with
templates generated from these models, so they are as strict as the event indices.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.types import Keyword, Text, UtcDatetime

ControlKind = Literal["backup", "restore_test", "deletion", "legal_hold"]
ControlStatus = Literal["started", "succeeded", "failed", "deleted", "requested", "completed", "opened", "closed"]
AuditAction = Literal[
    "retention_delete",
    "retention_hold",
    "backup",
    "restore_test",
    "snapshot_delete",
    "snapshot_hold",
    "hold_open",
    "hold_close",
    "purge",
]
AuditOutcome = Literal["started", "success", "failure", "kept"]
ReceiptStatus = Literal["in_progress", "completed", "failed"]


class ControlDetails(Strict):
    """Counts of a control event (`details` of the control JSON line)."""

    documents: int | None = Field(None, ge=0, description="Documents backed up, restored or deleted.")
    indices: int | None = Field(None, ge=0, description="Indices backed up, restored or deleted.")
    snapshot: Keyword | None = Field(None, description="Snapshot name.")
    taken_at: UtcDatetime | None = Field(None, description="When the snapshot was taken (backup deleted).")


class ControlEvent(Strict):
    """One control event as secmon emits it: the shape the `control` normalizer reads."""

    timestamp: UtcDatetime = Field(description="When it happened (UTC).")
    kind: ControlKind = Field(description="backup, restore_test, deletion or legal_hold.")
    status: ControlStatus = Field(description="Where it stands; allowed values depend on kind.")
    job_id: Keyword | None = Field(None, description="Backup job, restore test, receipt or hold id.")
    workspace: Keyword | None = Field(None, description="Workspace a deletion concerns.")
    user: Keyword | None = Field(None, description="Operator who ran the command.")
    actor: Keyword = Field("secmon-lifecycle", description="The system that did it.")
    incident_id: Keyword | None = Field(None, description="Incident of a legal hold.")
    backup_id: Keyword | None = Field(None, description="Snapshot concerned.")
    reason: Text | None = Field(None, description="Failure or hold reason.")
    requested_at: UtcDatetime | None = Field(None, description="When a deletion was requested.")
    details: ControlDetails | None = Field(None, description="Counts, snapshot name and when it was taken.")


class AuditRecord(Strict):
    """One lifecycle action (or a decision not to act), kept as evidence in `<prefix>-audit`."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this record's schema.")
    timestamp: UtcDatetime = Field(alias="@timestamp", description="When the action happened.")
    action: AuditAction = Field(description="What was done.")
    outcome: AuditOutcome = Field(description="started, success, failure, or kept (by a legal hold).")
    job_id: Keyword = Field(description="Run, snapshot, receipt or hold the action belongs to.")
    operator: Keyword = Field(description="Who ran the command (user or service account).")
    target: Keyword | None = Field(None, description="Index, snapshot or workspace acted on.")
    message: Text = Field(description="What happened, in one sentence.")
    hold_ids: list[Keyword] = Field(default_factory=list, description="Legal holds that kept the target.")
    documents: int | None = Field(None, ge=0, description="Documents concerned.")
    control: ControlEvent | None = Field(None, description="The control event this action emitted.")
    kafka_delivered: bool | None = Field(None, description="Whether that control event reached Kafka.")


class IndexCount(Strict):
    """Documents deleted from one index."""

    index: Keyword = Field(description="Index name.")
    documents: int = Field(ge=0, description="Documents deleted from it.")


class DeletionReceipt(Strict):
    """Proof that a workspace's documents were deleted: when, from where, how many, by whom."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this receipt's schema.")
    timestamp: UtcDatetime = Field(alias="@timestamp", description="When the purge started.")
    receipt_id: Keyword = Field(description="Deterministic id (workspace + request); also the _id.")
    workspace: Keyword = Field(description="organization.id whose documents were deleted.")
    request_id: Keyword = Field(description="The owner's deletion request (ticket) id.")
    status: ReceiptStatus = Field(description="in_progress, completed or failed.")
    operator: Keyword = Field(description="Who ran the purge.")
    requested_at: UtcDatetime = Field(description="When the owner asked (starts the 24 h clock).")
    started_at: UtcDatetime = Field(description="When the purge started.")
    completed_at: UtcDatetime | None = Field(None, description="When zero documents were verified.")
    indices: list[IndexCount] = Field(default_factory=list, description="Documents deleted per index.")
    documents: int = Field(0, ge=0, description="Documents deleted in total.")
    remaining: int | None = Field(None, ge=0, description="Documents found by the final count (0 = done).")
    passes: int = Field(0, ge=0, description="Scan passes run (documents arriving during a pass need another).")
    state_alerts: int = Field(0, ge=0, description="Alerts whose detector state must be forgotten.")
    state_users: int = Field(0, ge=0, description="Users whose detector state must be forgotten.")
    forget_parts: int = Field(0, ge=0, description="Parts of the forget request sent to the workers (0: none sent).")
    context_rows: int = Field(0, ge=0, description="Context rows of the workspace tombstoned in the context topics.")
    context_file_rows: int = Field(
        0, ge=0, description="Context rows of the workspace left in context files, to remove there."
    )
    snapshots_with_data: list[Keyword] = Field(
        default_factory=list, description="Snapshots taken before completion that still hold data."
    )
    snapshots_expire_by: UtcDatetime | None = Field(None, description="When the last of them is pruned, if not held.")
    snapshots_held: list[Keyword] = Field(default_factory=list, description="Legal holds keeping those snapshots.")
    reason: Text | None = Field(None, description="Why the purge failed.")


class LegalHold(Strict):
    """A legal hold: while open, retention and prune keep every index and snapshot it covers."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this hold's schema.")
    timestamp: UtcDatetime = Field(alias="@timestamp", description="Last change (open or close).")
    hold_id: Keyword = Field(description="Hold id (== incident id); also the _id.")
    incident_id: Keyword = Field(description="Incident under investigation.")
    reason: Text = Field(description="Why the data must be kept.")
    status: Literal["open", "closed"] = Field(description="open keeps the data; closed lets the clocks run.")
    indices: list[Keyword] = Field(description="Index name patterns covered (fnmatch), e.g. secmon-events-*.")
    opened_by: Keyword = Field(description="Who opened it.")
    opened_at: UtcDatetime = Field(description="When it was (last) opened.")
    closed_by: Keyword | None = Field(None, description="Who closed it.")
    closed_at: UtcDatetime | None = Field(None, description="When it was closed.")
    close_reason: Text | None = Field(None, description="Why it was closed.")


class ForgetRequest(Strict):
    """What workers must forget of a purged workspace (`<prefix>-purge` topic, from `secmon purge`).

    Alert ids and user names travel as digests keyed with `lifecycle.forget_key`
    (`pipeline.lifecycle.forget.forget_digest`), so with a secret key the request does not copy the
    workspace's identifiers into another topic. A large workspace's request is split in parts;
    each part is applied on its own.
    """

    receipt_id: Keyword = Field(description="Deletion receipt of the purge this request belongs to.")
    workspace: Keyword = Field(min_length=1, description="organization.id of the purged workspace.")
    requested_at: UtcDatetime = Field(description="When the purge asked the workers to forget.")
    part: int = Field(1, ge=1, description="This part's number.")
    parts: int = Field(1, ge=1, description="How many parts the request has.")
    key_id: Keyword = Field("", description="Public id of the digest key (a worker with another key cannot match).")
    alert_ids: list[Keyword] = Field(
        default_factory=list, max_length=10_000, description="Digests of the workspace's alert ids."
    )
    users: list[Keyword] = Field(
        default_factory=list, max_length=10_000, description="Digests of the workspace's user names."
    )


class ForgetFanout(Strict):
    """One part of a forget request on its way to one detect partition."""

    forget: ForgetRequest = Field(description="The request part.")
    partitions: int = Field(ge=1, le=100_000, description="Partitions of the detect topic when it was sent.")
