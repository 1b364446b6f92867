"""Control events: the kind/status table, who acted on whom, and the fields each kind needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.control import NORMALIZER, STATUSES, parse
from pipeline.normalizers.registry import sniff
from schemas.event import Origin

ALL_STATUSES = sorted({s for statuses in STATUSES.values() for s in statuses})
# Enough fields for every kind, so each test varies only what it checks.
BASE = {
    "timestamp": "2026-11-30T03:15:09Z",
    "job_id": "job-1",
    "workspace": "ws-acme",
    "user": "carol@acme.example",
    "actor": "admin@acme.example",
    "incident_id": "INC-1",
    "requested_at": "2026-11-23T09:12:00Z",
}


def line(**fields) -> bytes:
    """A control line with `fields` changed (None removes a field)."""
    doc = {**BASE, **fields}
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def events(data: bytes):
    return parse(RawRecord(data=data, origin=Origin(source="control", file_id="f", offset=0)), ParseOptions())


def error(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as info:
        events(data)
    return info.value


@pytest.mark.parametrize(("kind", "status"), [(k, s) for k in STATUSES for s in ALL_STATUSES])
def test_kind_status_table(kind: str, status: str):
    if status in STATUSES[kind]:
        (event,) = events(line(kind=kind, status=status))
        assert event.event.action == f"{kind}_{status}"
        assert event.secmon.control.kind == kind and event.secmon.control.status == status
    else:
        exc = error(line(kind=kind, status=status))
        assert exc.code == "invalid_field" and f"{kind} cannot be {status!r}" in exc.reason


@pytest.mark.parametrize(
    ("status", "outcome"), [("failed", "failure"), ("succeeded", "success"), ("started", "unknown")]
)
def test_outcome_follows_status(status: str, outcome: str):
    (event,) = events(line(kind="backup", status=status))
    assert event.event.outcome == outcome


def test_signout_all_names_the_admin_as_user_and_the_account_as_target():
    (event,) = events(line(kind="signout_all", status="executed"))
    assert event.user.name == "admin@acme.example" and event.user.target.name == "carol@acme.example"
    assert event.event.category == ["iam"] and event.organization.id == "ws-acme"
    assert event.related.user == ["carol@acme.example", "admin@acme.example"]


def test_other_kinds_name_the_operator_else_the_actor():
    (with_user,) = events(line(kind="legal_hold", status="opened"))
    (system_only,) = events(line(kind="backup", status="started", user=None, actor="backup-scheduler"))
    assert with_user.user.name == "carol@acme.example" and with_user.user.target is None
    assert system_only.user.name == "backup-scheduler" and system_only.event.category == ["configuration"]


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"kind": "deletion", "status": "completed", "requested_at": None}, "requested_at"),
        ({"kind": "deletion", "status": "requested", "workspace": None}, "workspace"),
        ({"kind": "legal_hold", "status": "opened", "incident_id": None}, "incident_id"),
        ({"kind": "signout_all", "status": "executed", "actor": None}, "actor"),
        ({"kind": "backup", "status": "started", "job_id": None}, "job_id"),
    ],
)
def test_fields_a_kind_needs_are_required(fields: dict, missing: str):
    exc = error(line(**fields))
    assert exc.code == "invalid_field" and exc.reason.startswith(missing)


def test_deletion_completed_carries_when_it_was_requested():
    (event,) = events(line(kind="deletion", status="completed"))
    assert event.secmon.control.requested_at.isoformat() == "2026-11-23T09:12:00+00:00"
    assert event.event.type == ["deletion"] and event.event.outcome == "success"
    assert (
        error(line(kind="deletion", status="completed", requested_at="2026-12-01T00:00:00Z")).reason
        == "requested_at: later than timestamp"
    )


def test_details_known_keys_only_and_snapshot_names_the_backup():
    (event,) = events(
        line(kind="backup", status="succeeded", details={"documents": 5, "snapshot": "snap-1", "secret": "x"})
    )
    assert event.secmon.control.backup_id == "snap-1" and "documents 5" in event.message
    assert "secret" not in json.dumps(event.to_doc())
    assert error(line(kind="backup", status="succeeded", details={"indices": "many"})).reason.startswith(
        "details.indices"
    )


def test_backup_deleted_is_a_successful_deletion_naming_the_snapshot_and_when_it_was_taken():
    (event,) = events(
        line(
            kind="backup",
            status="deleted",
            details={"snapshot": "secmon-2026.11.16-020000", "taken_at": "2026-11-16T03:00:00+01:00"},
        )
    )
    assert event.secmon.control.backup_id == "secmon-2026.11.16-020000"
    assert event.event.type == ["deletion"] and event.event.outcome == "success"
    assert "taken 2026-11-16T02:00:00Z" in event.message
    assert error(line(kind="backup", status="deleted", details={"taken_at": "yesterday"})).reason.startswith(
        "details.taken_at"
    )


def test_the_sources_doc_lists_the_statuses_of_every_kind():
    readme = (Path(__file__).parents[4] / "docs" / "sources.md").read_text(encoding="utf-8")
    table = readme.split("| kind | allowed statuses |", 1)[1].split("\n\n", 1)[0]
    documented = {}
    for row in table.splitlines()[2:]:
        kinds, statuses = (re.findall(r"`([a-z_]+)`", cell) for cell in row.strip("|").split("|"))
        documented.update(dict.fromkeys(kinds, tuple(statuses)))
    assert documented == STATUSES


def test_sniff_claims_control_lines_only():
    assert sniff(line(kind="backup", status="started")) is NORMALIZER
    assert not NORMALIZER.sniff(b'{"kind": "laptop", "status": "ok"}')


def test_deeply_nested_json_is_too_deep_not_a_crash():
    exc = error(b'{"kind": "backup", "details": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert exc.code == "too_deep"
