"""zeek_x509: Zeek x509.log rows (TSV with a #fields header, or JSON) -> certificate events."""

from __future__ import annotations

import json

import pytest

from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.zeek_ssl import NORMALIZER as ZEEK_SSL
from pipeline.normalizers.zeek_x509 import DEFAULT_FIELDS, NORMALIZER, dn_values, header_layout, parse
from schemas.event import Event, Origin

FIELDS = "#fields\t" + "\t".join(DEFAULT_FIELDS)
ROW = {
    "ts": "1796025600.100000",
    "fingerprint": "ab" * 32,
    "certificate.version": "3",
    "certificate.serial": "0A1B",
    "certificate.subject": "CN=app.example.com,O=Example\\\\, Ltd",
    "certificate.issuer": "CN=Example CA",
    "certificate.not_valid_before": "1790000000.000000",
    "certificate.not_valid_after": "1821536000.000000",
    "certificate.key_alg": "rsaEncryption",
    "certificate.sig_alg": "sha256WithRSAEncryption",
    "certificate.key_type": "rsa",
    "certificate.key_length": "2048",
    "certificate.exponent": "65537",
    "certificate.curve": "-",
    "san.dns": "app.example.com,www.example.com",
    "san.uri": "-",
    "san.email": "-",
    "san.ip": "-",
    "basic_constraints.ca": "F",
    "basic_constraints.path_len": "-",
}


def tsv(**values: str) -> str:
    row = ROW | values
    return "\t".join(row[f] for f in DEFAULT_FIELDS)


def one(line: str, header: str | None = FIELDS) -> Event:
    record = RawRecord(
        data=line.encode(),
        origin=Origin(source="zeek_x509", file_id="f1", offset=0),
        header=header.encode() if header is not None else None,
    )
    (event,) = parse(record, ParseOptions())
    return event


def test_a_row_fills_the_ecs_certificate_fields():
    e = one(tsv())
    cert = e.tls.server.x509
    assert (cert.subject.common_name, cert.subject.organization) == (["app.example.com"], ["Example, Ltd"])
    assert cert.subject.distinguished_name == "CN=app.example.com,O=Example\\, Ltd"
    assert (cert.public_key_algorithm, cert.public_key_size, cert.public_key_exponent) == ("RSA", 2048, 65537)
    assert (cert.signature_algorithm, cert.alternative_names) == (
        "sha256WithRSAEncryption",
        ["app.example.com", "www.example.com"],
    )
    assert e.tls.server.hash.sha256 == "ab" * 32 and e.tls.server.not_after.year == 2027
    assert (e.event.dataset, e.source, e.destination) == ("zeek.x509", None, None)
    assert e.related.hosts == ["app.example.com", "www.example.com"]


@pytest.mark.parametrize(
    ("dn", "attribute", "values"),
    [
        ("CN=a,O=Acme\\, Inc,C=US", "O", ["Acme, Inc"]),
        ("emailAddress=x@y,CN=one,CN=two", "CN", ["one", "two"]),
        ("O=NoCommonName", "CN", []),
        ("CN=trailing\\\\,O=x", "CN", ["trailing\\"]),
    ],
)
def test_dn_values_split_on_unescaped_commas_only(dn, attribute, values):
    assert dn_values(dn, attribute) == values


@pytest.mark.parametrize(("fingerprint", "kind"), [("ab" * 32, "sha256"), ("cd" * 20, "sha1"), ("ef" * 16, "md5")])
def test_the_fingerprint_goes_to_the_hash_its_length_names(fingerprint, kind):
    assert getattr(one(tsv(fingerprint=fingerprint)).tls.server.hash, kind) == fingerprint


def test_a_client_certificate_is_the_client_side():
    header = FIELDS + "\thost_cert\tclient_cert"
    e = one(tsv() + "\tF\tT", header)
    assert e.tls.server is None and e.tls.client.x509.subject.common_name == ["app.example.com"]


def test_validity_before_1970_and_in_double_notation_is_read():
    e = one(
        tsv(**{"certificate.not_valid_before": "-2208988800.000000", "certificate.not_valid_after": "2.385616957e+09"})
    )
    x509 = e.tls.server.x509
    assert (x509.not_before.year, x509.not_after.isoformat()) == (1900, "2045-08-06T07:22:37+00:00")


def test_json_rows_use_the_same_names():
    row = {
        "ts": 1796025600.5,
        "fingerprint": "ab" * 32,
        "certificate.subject": "CN=j",
        "certificate.issuer": "CN=i",
        "certificate.key_length": 1024,
        "san.dns": ["j.example"],
    }
    e = one(json.dumps(row), header=None)
    assert (e.tls.server.x509.public_key_size, e.related.hosts) == (1024, ["j.example"])


def test_a_header_of_another_log_is_refused():
    with pytest.raises(ParseError) as exc:
        one(tsv(), "#fields\tts\tuid\tid.orig_h")
    assert exc.value.code == "invalid_shape" and "x509.log" in exc.value.reason


def test_parsed_headers_are_cached():
    header_layout.cache_clear()
    for _ in range(3):
        one(tsv())
    assert header_layout.cache_info().misses == 1


def test_sniffing_tells_x509_rows_from_ssl_rows():
    x509_row, x509_json = tsv().encode(), json.dumps({"ts": 1, "certificate.subject": "CN=a"}).encode()
    ssl_row = b"1796025600.123456\tCUM0KZ3MLUfNB0cl11\t192.0.2.10\t51514\t198.51.100.80\t443\tTLSv12\t..."
    assert NORMALIZER.sniff(x509_row) and NORMALIZER.sniff(x509_json) and not NORMALIZER.sniff(ssl_row)
    assert not ZEEK_SSL.sniff(x509_row) and not ZEEK_SSL.sniff(x509_json)
