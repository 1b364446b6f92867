"""Staff access audit lines: what each field becomes and which lines are refused."""

from __future__ import annotations

import json

import pytest

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.registry import sniff
from pipeline.normalizers.staff_access import NORMALIZER, parse
from schemas.event import Origin

BASE = {
    "timestamp": "2026-11-30T09:14:03Z",
    "employee": "dana@ourco.example",
    "employee_id": "emp-0142",
    "workspace": "ws-acme",
    "resource": "workspace/documents",
    "action": "read",
    "record_count": 3,
}


def line(**fields) -> bytes:
    """A valid audit line with `fields` changed (None removes a field)."""
    doc = {**BASE, **fields}
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


CTX = ParseOptions()


def one(data: bytes, parse_options: ParseOptions = CTX):
    (event,) = parse(RawRecord(data=data, origin=Origin(source="staff_access", file_id="f", offset=0)), parse_options)
    return event


def error(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(RawRecord(data=data, origin=Origin(source="staff_access")), ParseOptions())
    return info.value


def test_fields_map_to_user_organization_and_staff_access():
    event = one(line(ticket_id="SUP-1", justification="customer asked", session_id="adm-1"))
    assert (event.user.name, event.user.id, event.organization.id) == ("dana@ourco.example", "emp-0142", "ws-acme")
    assert event.secmon.staff_access.model_dump(exclude_none=True) == {
        "resource": "workspace/documents",
        "action": "read",
        "record_count": 3,
        "ticket_id": "SUP-1",
        "justification": "customer asked",
    }
    assert event.event.action == "staff_data_access" and event.event.dataset == "staff.access"
    assert event.secmon.session.id == "adm-1" and event.related.user == ["dana@ourco.example"]


@pytest.mark.parametrize(
    ("action", "ecs_type"), [("read", "access"), ("export", "access"), ("update", "change"), ("delete", "change")]
)
def test_actions_map_to_ecs_database_types(action: str, ecs_type: str):
    event = one(line(action=action))
    assert event.event.category == ["database"] and event.event.type == [ecs_type]


def test_ipv4_mapped_source_ip_is_stored_as_ipv4():
    event = one(line(source_ip="::ffff:203.0.113.50"))
    assert event.source.ip == "203.0.113.50" and event.related.ip == ["203.0.113.50"]


def test_host_name_instead_of_ip_goes_to_source_domain():
    event = one(line(source_ip="vpn-gw-3.ourco.example"))
    assert event.source.ip is None and event.source.domain == "vpn-gw-3.ourco.example"
    assert event.related.hosts == ["vpn-gw-3.ourco.example"] and event.related.ip == []


def test_no_ticket_is_valid_and_said_in_the_message():
    event = one(line(record_count=1))
    assert event.secmon.staff_access.ticket_id is None and event.message.endswith(
        "1 record of workspace/documents in ws-acme (no ticket)"
    )


def test_unknown_keys_are_ignored_and_original_kept_only_when_asked():
    data = line(client="admin-console", nested={"x": 1})
    assert "client" not in json.dumps(one(data).to_doc())
    assert one(data).event.original is None
    assert one(data, ParseOptions(keep_original=True)).event.original == data.decode()


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"record_count": "3"}, "record_count"),
        ({"record_count": True}, "record_count"),
        ({"record_count": -1}, "record_count"),
        ({"record_count": 2**64}, "record_count"),
        ({"action": "impersonate"}, "action"),
        ({"employee_id": None}, "employee_id"),
        ({"timestamp": "2026-11-30T09:14:03"}, "timestamp"),
        ({"source_ip": "999.1.1.1"}, "source_ip"),
    ],
)
def test_invalid_fields_are_named(fields: dict, where: str):
    exc = error(line(**fields))
    assert exc.code == "invalid_field" and exc.reason.startswith(where)


def test_sniff_claims_audit_lines_only():
    assert sniff(line()) is NORMALIZER
    assert not NORMALIZER.sniff(
        b'{"timestamp": "2026-11-30T08:01:12Z", "user": "a", "outcome": "success", "source_ip": "192.0.2.1"}'
    )
