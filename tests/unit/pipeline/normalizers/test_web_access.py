"""web_access: Apache/nginx common, combined and secmon_tls lines -> web access events."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.web_access import NORMALIZER, parse, parse_time
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Event, Origin

COMBINED = (
    '198.51.100.23 - alice [30/Nov/2026:08:01:02 +0100] "GET /login?next=%2F HTTP/1.1" 200 5124 '
    '"https://app.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"'
)
TLS_SUFFIX = " TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 0.123 192.0.2.1:443"


def one(line: str | bytes, offset: int = 0, **parse_options) -> Event:
    """The single event of one line read at `offset` of a fixed file."""
    data = line.encode() if isinstance(line, str) else line
    record = RawRecord(data=data, origin=Origin(source="web_access", file_id="f1", offset=offset))
    (event,) = parse(record, ParseOptions(**parse_options))
    return event


def error(line: str | bytes) -> ParseError:
    data = line.encode() if isinstance(line, str) else line
    with pytest.raises(ParseError) as exc:
        parse(RawRecord(data=data, origin=Origin(source="web_access")), ParseOptions())
    return exc.value


def with_field(field: str, value: str, line: str = COMBINED) -> str:
    """COMBINED with one space-separated field (by its position in the line) replaced."""
    head, rest = line.split(" [", 1)
    client, ident, user = head.split(" ")
    parts = {"client": client, "ident": ident, "user": user}
    parts[field] = value
    return f"{parts['client']} {parts['ident']} {parts['user']} [{rest}"


def test_combined_line_fills_request_response_and_client():
    e = one(COMBINED)
    assert e.timestamp.isoformat() == "2026-11-30T07:01:02+00:00"
    assert (e.source.ip, e.user.name, e.related.user) == ("198.51.100.23", "alice", ["alice"])
    assert (e.http.request.method, e.http.version, e.http.response.status_code) == ("GET", "1.1", 200)
    assert (e.url.original, e.url.path, e.url.query) == ("/login?next=%2F", "/login", "next=%2F")
    assert e.http.response.body.bytes == 5124 and e.http.request.referrer == "https://app.example.com/"
    assert e.user_agent.original.startswith("Mozilla/5.0 (X11")
    assert (e.event.category, e.event.type, e.event.dataset) == (["web"], ["access"], "web.access")
    assert e.tls is None and e.destination is None and e.event.duration is None


def test_common_format_has_no_referrer_or_agent():
    e = one('192.0.2.10 - - [30/Nov/2026:09:15:00 +0100] "GET /index.html HTTP/1.1" 200 2326')
    assert e.user_agent is None and e.http.request.referrer is None and e.user is None
    assert e.http.response.body.bytes == 2326


def test_secmon_tls_fields_with_and_without_server_address():
    e = one(COMBINED + TLS_SUFFIX)
    assert (e.tls.version, e.tls.version_protocol, e.tls.cipher) == ("1.2", "tls", "ECDHE-RSA-AES128-GCM-SHA256")
    assert e.event.duration == 123_000_000
    assert (e.destination.ip, e.destination.port) == ("192.0.2.1", 443)
    assert e.related.ip == ["198.51.100.23", "192.0.2.1"]
    short = one(COMBINED + " TLSv1.3 TLS_AES_256_GCM_SHA384 0.004")
    assert short.destination is None and short.event.duration == 4_000_000 and short.tls.version == "1.3"


def test_ipv6_server_address_splits_on_the_last_colon():
    e = one(COMBINED + " TLSv1.3 TLS_AES_128_GCM_SHA256 0.010 2001:db8::1:8443")
    assert (e.destination.ip, e.destination.port) == ("2001:db8::1", 8443)


@pytest.mark.parametrize(
    ("protocol", "version", "family"),
    [
        ("TLSv1", "1.0", "tls"),
        ("TLSv1.1", "1.1", "tls"),
        ("TLSv1.2", "1.2", "tls"),
        ("TLSv1.3", "1.3", "tls"),
        ("SSLv3", "3.0", "ssl"),
        ("SSLv2", "2.0", "ssl"),
    ],
)
def test_tls_protocol_names_map_to_ecs_version(protocol: str, version: str, family: str):
    e = one(COMBINED + f" {protocol} SOME-CIPHER 0.001")
    assert (e.tls.version, e.tls.version_protocol, e.tls.cipher) == (version, family, "SOME-CIPHER")


def test_plain_http_request_in_secmon_tls_format_has_no_tls():
    e = one(COMBINED + " - - 0.001 192.0.2.1:80")
    assert e.tls is None and e.destination.port == 80


def test_escaped_quotes_stay_inside_the_request_and_user_agent():
    e = one(
        r'203.0.113.9 - - [30/Nov/2026:07:04:11 +0000] "GET /q?s=\"x\" HTTP/1.1" 403 162 "-" '
        r'"Bot \"quoted\" C:\\agent"'
    )
    assert e.url.original == '/q?s="x"' and e.url.query == 's="x"'
    assert e.user_agent.original == 'Bot "quoted" C:\\agent'


def test_tls_handshake_to_plain_http_port_is_a_malformed_request_not_an_error():
    e = one(r'192.0.2.44 - - [30/Nov/2026:07:05:30 +0000] "\x16\x03\x01\x00\xa5\x01\x00" 400 157 "-" "-"')
    assert e.event.action == "malformed_request" and e.event.outcome == "failure"
    assert e.url is None and e.http.request is None and e.http.response.status_code == 400
    assert r"\x16\x03\x01" in e.message  # escaped, so the message stays printable


def test_dash_request_line_is_an_empty_request():
    e = one('192.0.2.45 - - [30/Nov/2026:07:05:31 +0000] "-" 408 0 "-" "-"')
    assert e.event.action == "empty_request" and e.url is None and e.user_agent is None


@pytest.mark.parametrize(("client", "ip"), [("2001:db8::7", "2001:db8::7"), ("::ffff:203.0.113.77", "203.0.113.77")])
def test_ipv6_clients_are_canonical(client: str, ip: str):
    e = one(with_field("client", client))
    assert (e.source.ip, e.source.address, e.related.ip) == (ip, client, [ip])


def test_host_name_client_goes_to_domain_not_ip():
    e = one(with_field("client", "crawler-1.example.net"))
    assert e.source.ip is None and e.source.domain == "crawler-1.example.net"
    assert e.related.hosts == ["crawler-1.example.net"] and e.related.ip == []


def test_dash_bytes_means_no_body_size():
    e = one(COMBINED.replace(" 200 5124 ", " 304 - "))
    assert e.http.response.body is None and e.event.outcome == "success"


@pytest.mark.parametrize(
    ("status", "outcome"), [(200, "success"), (399, "success"), (400, "failure"), (503, "failure")]
)
def test_outcome_follows_status(status: int, outcome: str):
    assert one(COMBINED.replace(" 200 ", f" {status} ")).event.outcome == outcome


def test_absolute_url_proxy_probe_names_the_target_host():
    e = one(COMBINED.replace("/login?next=%2F", "http://proxy-check.example.org/ip.php?id=7"))
    assert (e.url.domain, e.url.path, e.url.query) == ("proxy-check.example.org", "/ip.php", "id=7")
    assert "proxy-check.example.org" in e.related.hosts


def test_event_ids_come_from_the_origin_and_original_is_kept_only_on_request():
    assert one(COMBINED, offset=0).event.id == one(COMBINED, offset=0).event.id
    assert one(COMBINED, offset=0).event.id != one(COMBINED, offset=300).event.id
    assert one(COMBINED).event.original is None
    assert one(COMBINED, keep_original=True).event.original == COMBINED


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('198.51.100.23 - - [30/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1"', "unrecognized_line"),
        ('{"remote_addr": "198.51.100.23"}', "unrecognized_line"),
        (COMBINED.replace("30/Nov/2026", "31/Nov/2026"), "invalid_field"),
        (COMBINED.replace("+0100", "+2400"), "invalid_field"),
        (COMBINED.replace(" 5124 ", " 99999999999999999999 "), "invalid_field"),
        (with_field("client", "unix:"), "invalid_field"),
        (COMBINED + " TLSv1.2 X 0.1 192.0.2.1:70000", "invalid_field"),
        (COMBINED.encode().replace(b"alice", b"al\xffce"), "invalid_utf8"),
    ],
)
def test_broken_lines_raise_parse_errors_with_a_bounded_code(line: str | bytes, code: str):
    assert error(line).code == code


def test_url_longer_than_the_schema_allows_is_a_parse_error():
    assert error(COMBINED.replace("/login?next=%2F", "/" + "a" * 70_000)).code == "invalid_field"


def test_timestamps_are_parsed_once_per_distinct_second():
    parse_time.cache_clear()
    for _ in range(3):
        one(COMBINED)
    assert parse_time.cache_info().hits == 2


def test_sniff_claims_access_lines_only():
    assert NORMALIZER.sniff(COMBINED.encode())
    assert NORMALIZER.sniff(b'192.0.2.10 - - [30/Nov/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 2326\n')
    assert not NORMALIZER.sniff(b'{"timestamp": "2026-11-30T08:01:12Z", "source_ip": "1.2.3.4"}')
    assert not NORMALIZER.sniff(b"Nov 30 08:01:02 web-1 sshd[812]: Accepted password for bob from 192.0.2.1")
    assert not NORMALIZER.sniff(b"#separator \\x09")


def test_reader_path_counts_events_and_dead_letters(tmp_path: Path):
    log = tmp_path / "access.log"
    log.write_bytes((COMBINED + "\n" + "garbage\n" + COMBINED + TLS_SUFFIX + "\n\n").encode())
    results = [process_record(r, NORMALIZER, [], ParseOptions()) for r in read_records(str(log), NORMALIZER, 1 << 20)]
    assert [len(r.events) for r in results] == [1, 0, 1]
    assert results[1].dead_letter.error_code == "unrecognized_line"
    assert results[0].events[0].event.id != results[2].events[0].event.id
