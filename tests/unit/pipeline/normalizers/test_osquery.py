"""osquery result lines: which rows become posture events and what each query tells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.osquery import NORMALIZER, parse, query_of_name
from pipeline.normalizers.registry import sniff
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Origin

DECORATIONS = {"host_uuid": "6F2C1B0E-8A4D-5C37-9E21-0B7A4D1C9F33", "hostname": "mbp-alice", "username": "alice"}


def result(name: str = "pack_posture_disk_encryption", **fields) -> bytes:
    """A differential result line (override or add any key; None removes one)."""
    doc = {
        "name": name,
        "hostIdentifier": "mbp-alice.corp.example",
        "calendarTime": "Mon Nov 30 08:01:02 2026 UTC",
        "unixTime": 1796025662,
        "epoch": 0,
        "counter": 3,
        "numerics": False,
        "decorations": DECORATIONS,
        "columns": {"name": "/dev/disk3s1", "encrypted": "1", "type": "APFS Encryption"},
        "action": "added",
        **fields,
    }
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def events(data: bytes):
    return parse(RawRecord(data=data, origin=Origin(source="osquery", file_id="f", offset=0)), ParseOptions())


def test_differential_added_row_is_one_posture_event():
    (event,) = events(result())
    assert event.secmon.posture.disk_encrypted is True and event.secmon.posture.encryption_type == "APFS Encryption"
    assert (event.host.name, event.host.id, event.user.name) == ("mbp-alice", DECORATIONS["host_uuid"], "alice")
    assert event.event.action == "posture_disk_encryption" and event.event.kind == "state"
    assert event.timestamp.isoformat() == "2026-11-30T08:01:02+00:00"
    assert event.related.hosts == ["mbp-alice", "mbp-alice.corp.example"]


def test_removed_rows_and_unknown_queries_yield_nothing():
    assert events(result(action="removed")) == []
    assert events(result(name="pack_it_usb_devices", columns={"vendor": "SanDisk", "serial": "4C53"})) == []


def test_snapshot_rows_become_one_event_each_with_distinct_ids(tmp_path: Path):
    rows = [
        {"name": "C:", "encrypted": "1", "type": "BitLocker"},
        {"name": "D:", "encrypted": "0", "type": "BitLocker"},
    ]
    path = tmp_path / "osqueryd.results.log"
    path.write_bytes(result(columns=None, action="snapshot", snapshot=rows) + b"\n")
    (record,) = read_records(str(path), NORMALIZER, 1024 * 1024)
    produced = process_record(record, NORMALIZER, [], ParseOptions()).events
    assert [e.secmon.posture.disk_encrypted for e in produced] == [True, False]
    assert len({e.event.id for e in produced}) == 2


def test_numbers_as_strings_and_as_numbers_mean_the_same():
    as_strings = events(
        result(
            name="pack_posture_screen_lock", columns={"screen_lock_enabled": "1", "screen_lock_delay_seconds": "300"}
        )
    )
    as_numbers = events(
        result(
            name="pack_posture_screen_lock",
            numerics=True,
            columns={"screen_lock_enabled": 1, "screen_lock_delay_seconds": 300},
        )
    )
    assert as_strings[0].secmon.posture == as_numbers[0].secmon.posture
    assert as_numbers[0].secmon.posture.screen_lock_delay_seconds == 300


def test_null_columns_leave_posture_fields_unset():
    (event,) = events(
        result(columns={"name": "/dev/disk4s1", "encrypted": "", "type": "", "encryption_status": "undefined"})
    )
    assert event.secmon.posture.disk_encrypted is None and event.secmon.posture.encryption_type is None


def test_macos_screenlock_without_password_on_wake_is_off():
    (event,) = events(result(name="pack_posture_screenlock", columns={"enabled": "1", "grace_period": "-1"}))
    assert event.secmon.posture.screen_lock_enabled is False and event.secmon.posture.screen_lock_delay_seconds is None
    assert event.event.action == "posture_screen_lock"


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("pack_posture_disk_encryption", "disk_encryption"),
        ("pack/posture/screenlock", "screen_lock"),
        ("system_info", "system_info"),
        ("pack_fleet_os_version", "os_version"),
        ("pack_posture_disk", None),
        ("pack_posture_disk_encryption_extra", None),
    ],
)
def test_query_is_recognised_by_the_end_of_its_name(name: str, query: str | None):
    assert query_of_name(name) == query


def test_unnamed_query_is_recognised_by_its_columns():
    (event,) = events(result(name="fleet_adhoc_7"))
    assert event.event.action == "posture_disk_encryption"


def test_host_identity_and_os_fill_host_fields_only():
    (info,) = events(
        result(
            name="pack_posture_system_info",
            decorations=None,
            columns={
                "hostname": "SURFACE-CAROL",
                "uuid": "1E7A9C40",
                "hardware_serial": "0F3K2Q",
                "computer_name": "Carol's Surface",
            },
        )
    )
    assert (info.host.name, info.host.hostname, info.host.id) == ("mbp-alice.corp.example", "SURFACE-CAROL", "1E7A9C40")
    assert info.secmon.posture is None and "Carol's Surface" in info.related.hosts
    (os_,) = events(
        result(name="pack_posture_os_version", columns={"name": "macOS", "version": "15.1.1", "platform": "darwin"})
    )
    assert (os_.host.os.name, os_.host.os.version, os_.host.os.platform) == ("macOS", "15.1.1", "darwin")


def test_an_overlong_reported_hostname_is_cut_to_a_keyword():
    line = result(name="pack_posture_system_info", columns={"hostname": "h" * 5000, "uuid": "1E7A9C40"})
    record = RawRecord(data=line, origin=Origin(source="osquery", file_id="f", offset=0))
    (event,) = process_record(record, NORMALIZER, [], ParseOptions()).events  # the schema cuts (schemas.bounds)
    assert len(event.host.hostname) == 1024 and "host.hostname" in event.secmon.truncated


def test_batched_diff_results_use_added_rows_only():
    produced = events(
        result(
            columns=None,
            action=None,
            diffResults={
                "added": [{"name": "/dev/sda2", "encrypted": "1", "type": "LUKS"}],
                "removed": [{"name": "/dev/sda2", "encrypted": "0", "type": ""}],
            },
        )
    )
    assert [e.secmon.posture.encryption_type for e in produced] == ["LUKS"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"columns": {"encrypted": "yes", "type": "LUKS"}}, "invalid_field"),
        ({"columns": ["encrypted", "1"]}, "invalid_shape"),
        ({"action": "changed"}, "invalid_field"),
        ({"unixTime": 10**30}, "invalid_field"),
        ({"unixTime": None, "calendarTime": "yesterday"}, "invalid_field"),
        ({"hostIdentifier": None}, "invalid_field"),
    ],
)
def test_malformed_results_are_refused(fields: dict, code: str):
    with pytest.raises(ParseError) as info:
        events(result(**fields))
    assert info.value.code == code


def test_sniff_claims_result_lines_only():
    assert sniff(result()) is NORMALIZER
    assert not NORMALIZER.sniff(b'{"name": "x", "hostname": "y", "columns": {}}')
