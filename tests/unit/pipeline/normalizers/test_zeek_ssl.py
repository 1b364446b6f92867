"""zeek_ssl: Zeek ssl.log rows (TSV with a #fields header, or JSON) -> TLS connection events."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.zeek_ssl import DEFAULT_FIELDS, NORMALIZER, header_layout, parse
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Event, Origin

FIELDS = "#fields\t" + "\t".join(DEFAULT_FIELDS)
ROW = {
    "ts": "1796025600.123456",
    "uid": "CUM0KZ3MLUfNB0cl11",
    "id.orig_h": "192.0.2.10",
    "id.orig_p": "51514",
    "id.resp_h": "198.51.100.80",
    "id.resp_p": "443",
    "version": "TLSv12",
    "cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "curve": "x25519",
    "server_name": "app.example.com",
    "resumed": "F",
    "last_alert": "-",
    "next_protocol": "h2",
    "established": "T",
}


def tsv(fields: tuple[str, ...] = DEFAULT_FIELDS, **values: str) -> str:
    """A TSV row in the order of `fields`, from ROW with `values` overriding."""
    row = ROW | values
    return "\t".join(row[f] for f in fields)


def events(line: str | bytes, header: str | None = FIELDS, **parse_options) -> list[Event]:
    data = line.encode() if isinstance(line, str) else line
    record = RawRecord(
        data=data,
        origin=Origin(source="zeek_ssl", file_id="f1", offset=0),
        header=header.encode() if header is not None else None,
    )
    return parse(record, ParseOptions(**parse_options))


def one(line: str | bytes, header: str | None = FIELDS, **parse_options) -> Event:
    (event,) = events(line, header, **parse_options)
    return event


def error(line: str, header: str | None = FIELDS) -> ParseError:
    with pytest.raises(ParseError) as exc:
        events(line, header)
    return exc.value


def test_tsv_row_fills_endpoints_tls_and_network():
    e = one(tsv())
    assert e.timestamp.isoformat() == "2026-11-30T08:00:00.123456+00:00"
    assert (e.source.ip, e.source.port, e.destination.ip, e.destination.port) == (
        "192.0.2.10",
        51514,
        "198.51.100.80",
        443,
    )
    assert e.destination.domain == "app.example.com" and e.related.hosts == ["app.example.com"]
    assert (e.tls.version, e.tls.version_protocol, e.tls.established) == ("1.2", "tls", True)
    assert e.tls.cipher == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert (e.network.protocol, e.network.transport) == ("tls", "tcp")
    assert (e.event.category, e.event.type, e.event.dataset) == (["network"], ["connection", "protocol"], "zeek.ssl")
    assert e.related.ip == ["192.0.2.10", "198.51.100.80"] and "CUM0KZ3MLUfNB0cl11" in e.message


@pytest.mark.parametrize(
    ("zeek", "version", "family", "transport"),
    [
        ("SSLv2", "2.0", "ssl", "tcp"),
        ("SSLv3", "3.0", "ssl", "tcp"),
        ("TLSv10", "1.0", "tls", "tcp"),
        ("TLSv11", "1.1", "tls", "tcp"),
        ("TLSv12", "1.2", "tls", "tcp"),
        ("TLSv13", "1.3", "tls", "tcp"),
        ("TLSv13-draft23", "1.3", "tls", "tcp"),
        ("DTLSv12", "1.2", "dtls", "udp"),
        ("unknown-64206", None, None, "tcp"),
    ],
)
def test_zeek_versions_map_to_ecs(zeek: str, version: str | None, family: str | None, transport: str):
    e = one(tsv(version=zeek))
    assert (e.tls.version, e.tls.version_protocol, e.network.transport) == (version, family, transport)
    assert e.network.protocol == (family or "tls")


def test_unset_and_empty_fields_are_absent():
    e = one(tsv(version="-", cipher="-", server_name="(empty)", established="-"))
    assert e.tls.version is None and e.tls.cipher is None and e.tls.established is None
    assert e.destination.domain is None and e.related.hosts == [] and e.event.outcome is None


def test_handshake_that_did_not_complete_is_a_failure():
    assert one(tsv(established="F")).event.outcome == "failure"


def test_columns_follow_the_header_not_the_default_order():
    fields = ("id.resp_p", "id.resp_h", "id.orig_p", "id.orig_h", "ts", "server_name", "version")
    e = one(tsv(fields), header="#fields\t" + "\t".join(fields))
    assert (e.source.port, e.destination.port, e.tls.version, e.destination.domain) == (
        51514,
        443,
        "1.2",
        "app.example.com",
    )
    assert e.tls.cipher is None  # not in this header


def test_without_header_the_default_order_is_used_and_extra_columns_are_ignored():
    e = one(tsv() + "\tCsiI\t-\t-\t-", header=None)
    assert (e.source.ip, e.tls.version) == ("192.0.2.10", "1.2")
    assert error(tsv()[: tsv().rindex("\t")], header=None).code == "invalid_shape"


def test_with_header_the_column_count_must_match():
    assert error(tsv() + "\textra").code == "invalid_shape"


def test_header_of_another_log_is_rejected():
    assert error(tsv(), header="#fields\tts\tuid\tid.orig_h\tid.orig_p\tproto").code == "invalid_shape"


def test_parsed_headers_are_cached():
    header_layout.cache_clear()
    for _ in range(5):
        one(tsv())
    assert header_layout.cache_info().misses == 1 and header_layout.cache_info().hits == 4


@pytest.mark.parametrize(
    "line", ["#separator \\x09", "#path\tssl", "#types\ttime\tstring", "#close\t2026-11-30-09-00-00", FIELDS]
)
def test_comment_lines_carry_no_event(line: str):
    assert events(line) == []


def test_escaped_bytes_in_the_server_name_are_decoded():
    assert one(tsv(server_name="caf\\xc3\\xa9.example\\x2dx.com")).destination.domain == "café.example-x.com"


def test_json_row_with_epoch_ts():
    doc = {k: ROW[k] for k in ("uid", "version", "cipher", "server_name")}
    doc |= {
        "ts": 1796025600.123456,
        "id.orig_h": "::ffff:192.0.2.10",
        "id.orig_p": 51514,
        "id.resp_h": "2001:db8::443",
        "id.resp_p": 443,
        "established": True,
        "cert_chain_fps": ["ab"],
    }
    e = one(json.dumps(doc), header=None)
    assert e.timestamp.isoformat() == "2026-11-30T08:00:00.123456+00:00"
    assert (e.source.ip, e.destination.ip, e.tls.established) == ("192.0.2.10", "2001:db8::443", True)


def test_json_iso_ts_without_offset_uses_the_configured_timezone():
    doc = {
        "ts": "2026-11-30T09:00:02",
        "id.orig_h": "192.0.2.1",
        "id.orig_p": 1,
        "id.resp_h": "192.0.2.2",
        "id.resp_p": 443,
    }
    cet = timezone(timedelta(hours=1))
    assert one(json.dumps(doc), header=None, default_tz=cet).timestamp.isoformat() == "2026-11-30T08:00:02+00:00"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"ts": True}, "invalid_field"),
        ({"ts": 1e300}, "invalid_field"),
        ({"id.orig_h": 5}, "invalid_field"),
        ({"id.resp_p": 70000}, "invalid_field"),
        ({"version": ["TLSv12"]}, "invalid_field"),
        ({"ts": "9999-12-31T23:00:00-05:00"}, "invalid_field"),
        ({"ts": "0001-01-01T00:00:00+05:00"}, "invalid_field"),
    ],
)
def test_json_wrong_types_are_invalid_fields(change: dict, code: str):
    doc = {
        "ts": 1796025600,
        "id.orig_h": "192.0.2.1",
        "id.orig_p": 1,
        "id.resp_h": "192.0.2.2",
        "id.resp_p": 443,
    } | change
    assert error(json.dumps(doc), header=None).code == code


def test_json_that_is_not_an_object_or_not_json():
    assert error("[1, 2]").code == "invalid_shape"
    assert error('{"ts": 1').code == "invalid_json"
    assert error('{"ts":' + "[" * 5000 + "]" * 5000 + "}").code == "too_deep"


def test_sniff_claims_ssl_rows_and_json_but_not_other_zeek_logs():
    assert NORMALIZER.sniff(tsv().encode())
    assert NORMALIZER.sniff(b'{"ts":1796025600.1,"uid":"C1","id.orig_h":"192.0.2.1","version":"TLSv12","cipher":"X"}')
    assert not NORMALIZER.sniff(b"#separator \\x09\n")  # shared by every Zeek log: needs --source
    assert not NORMALIZER.sniff(b"1796025600.1\tCUM0KZ3MLUfNB0cl11\t192.0.2.1\t5\t192.0.2.2\t22\ttcp\tssh\t0.1")
    assert not NORMALIZER.sniff(b'{"ts":1796025600.1,"uid":"C1","id.orig_h":"192.0.2.1","proto":"tcp"}')


def test_reader_hands_each_row_the_latest_fields_header(tmp_path: Path):
    reordered = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "version")
    log = tmp_path / "ssl.log"
    log.write_text(
        "\n".join(
            [
                "#separator \\x09",
                "#path\tssl",
                FIELDS,
                tsv(),
                "#close\tx",
                "#fields\t" + "\t".join(reordered),
                tsv(reordered, version="TLSv13"),
                "",
            ]
        )
    )
    results = [process_record(r, NORMALIZER, [], ParseOptions()) for r in read_records(str(log), NORMALIZER, 1 << 20)]
    assert [len(r.events) for r in results] == [0, 0, 1, 0, 1]
    assert all(r.dead_letter is None for r in results)
    assert [r.events[0].tls.version for r in results if r.events] == ["1.2", "1.3"]
