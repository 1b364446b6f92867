"""VPC flow log behaviours worth naming: header detection, header-defined layouts, rows without events."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.registry import sniff
from pipeline.normalizers.vpcflow import NORMALIZER, is_header, parse
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Event, Origin

CTX = ParseOptions()
ORIGIN = Origin(source="vpcflow", file="f.log", file_id="f1", offset=0)
V2_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
)
V5_HEADER = (
    "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport "
    "pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"
)
ROW = "2 111122223333 eni-0a1b2c3d4e5f60718 203.0.113.12 10.0.1.25 51812 22 6 14 3820 1764489600 1764489660 ACCEPT OK"
V5_ROW = (
    "5 vpc-0f1e2d3c subnet-0123 i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 111122223333 IPv4 10.0.2.11 10.0.1.25 "
    "4332 443 198.51.100.23 10.0.1.25 6 5402 12 1764489600 1764489660 REJECT 19 OK"
)


def events(line: str, header: str | None = None) -> list[Event]:
    return parse(RawRecord(data=line.encode(), origin=ORIGIN, header=header.encode() if header else None), CTX)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (V2_HEADER, True),
        (V5_HEADER, True),
        ("version account-id region az-id flow-direction traffic-path reject-reason log-status", True),
        ("version srcaddr dstaddr some-future-field", True),  # a field AWS adds later does not hide the header
        ("srcaddr dstaddr", True),  # custom formats need not start with version
        (ROW, False),
        ("2 111122223333 eni-0a1b2c3d4e5f60718 - - - - - - - 1764489600 1764489660 - NODATA", False),
        ("version", False),
        ("vpc-0f1e2d3c eu-west-1 ingress", False),  # values that look like names, but no field names
        ("Version Srcaddr Dstaddr", False),
        ("#fields ts uid", False),
        ("", False),
    ],
)
def test_is_header(line, expected):
    assert is_header(line.encode()) is expected


def test_rows_follow_their_files_header(tmp_path):
    path = tmp_path / "custom.log"
    path.write_text(f"{V5_HEADER}\n{V5_ROW}\n{V2_HEADER}\n{ROW}\n")
    records = list(read_records(str(path), NORMALIZER, 1024 * 1024))
    assert [r.header.decode() for r in records] == [V5_HEADER, V2_HEADER]
    first, second = (process_record(r, NORMALIZER, [], CTX).events[0] for r in records)
    # v5 lists bytes before packets; the header, not the position, decides which is which
    assert (first.source.bytes, first.source.packets, first.host.id) == (5402, 12, "i-0123456789abcdef0")
    assert "198.51.100.23" in first.related.ip  # pkt-srcaddr: the packet's origin behind the NAT
    assert (second.source.bytes, second.source.packets, second.host) == (3820, 14, None)


def test_row_without_header_is_the_v2_default():
    (event,) = events(ROW)
    assert (event.source.ip, event.source.port, event.destination.ip, event.destination.port) == (
        "203.0.113.12",
        51812,
        "10.0.1.25",
        22,
    )
    assert (event.network.transport, event.network.iana_number) == ("tcp", "6")
    assert (event.event.action, event.event.outcome, event.event.type) == (
        "accept",
        "success",
        ["connection", "allowed"],
    )
    assert event.timestamp == event.event.start and event.event.start.isoformat() == "2025-11-30T08:00:00+00:00"
    assert event.cloud.account.id == "111122223333" and event.cloud.provider == "aws"


def test_reject_is_a_denied_failure():
    (event,) = events(ROW.replace("ACCEPT", "REJECT"))
    assert (event.event.action, event.event.outcome, event.event.type) == (
        "reject",
        "failure",
        ["connection", "denied"],
    )


@pytest.mark.parametrize("status", ["NODATA", "SKIPDATA"])
def test_nodata_and_skipdata_rows_are_not_events(status):
    assert events(f"2 111122223333 eni-0a1b2c3d4e5f60718 - - - - - - - 1764489600 1764489660 - {status}") == []


def test_header_line_reaching_parse_is_not_an_event():
    assert events(V2_HEADER) == []


@pytest.mark.parametrize(
    ("proto", "transport"),
    [("6", "tcp"), ("17", "udp"), ("1", "icmp"), ("58", "ipv6-icmp"), ("47", "gre"), ("253", None)],
)
def test_transport_from_iana_number(proto, transport):
    (event,) = events(ROW.replace(" 6 14 ", f" {proto} 14 "))
    assert (event.network.transport, event.network.iana_number) == (transport, proto)


def test_icmp_flows_have_no_ports():
    (event,) = events(ROW.replace(" 51812 22 6 ", " 0 0 1 "))
    assert event.source.port is None and event.destination.port is None


def test_version_5_row_without_header_is_rejected():
    with pytest.raises(ParseError) as err:
        events("5" + ROW[1:])
    assert err.value.code == "unrecognized_line" and "header" in err.value.reason


def test_row_not_matching_its_header_is_rejected():
    with pytest.raises(ParseError) as err:
        events(ROW, header=V5_HEADER)
    assert err.value.code == "unrecognized_line" and "14 fields" in err.value.reason


def test_header_that_is_not_a_field_list_is_rejected():
    with pytest.raises(ParseError) as err:
        events(ROW, header="#fields ts uid id.orig_h")
    assert err.value.code == "invalid_shape"


def test_region_direction_and_reject_reason_from_a_v8_header():
    header = (
        "version account-id region interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
        "action flow-direction reject-reason log-status"
    )
    row = (
        "8 111122223333 eu-west-1 eni-0a1b 198.51.100.66 10.0.1.25 52000 22 6 1 60 1764489700 1764489760 "
        "REJECT ingress BPA OK"
    )
    (event,) = events(row, header=header)
    assert (event.cloud.region, event.network.direction, event.event.reason) == ("eu-west-1", "ingress", "BPA")


def test_sniff_claims_flow_logs_only():
    assert sniff(ROW.encode()) is NORMALIZER
    assert sniff(V5_HEADER.encode()) is NORMALIZER
    assert not NORMALIZER.sniff(b'{"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "X"}')
    assert not NORMALIZER.sniff(b"Nov 30 08:00:01 web-1 sshd[811]: Failed password for root from 203.0.113.12")


token = st.sampled_from(
    [
        "-",
        "2",
        "5",
        "0",
        "65536",
        "6",
        "ACCEPT",
        "REJECT",
        "OK",
        "NODATA",
        "10.0.0.1",
        "::1",
        "1764489600",
        "99999999999999999999",
        "eni-1",
        "x" * 1100,
    ]
) | st.text(max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(token, min_size=14, max_size=21), header=st.sampled_from([None, V2_HEADER, V5_HEADER]))
def test_any_row_gives_an_event_nothing_or_a_parse_error(tokens, header):
    try:
        for event in events(" ".join(tokens), header):
            event.to_doc()
    except ParseError as exc:
        assert exc.code in ("unrecognized_line", "invalid_field", "invalid_utf8")
