"""Zeek `x509.log`: one certificate seen in a TLS handshake per line, as TSV or JSON (dataset zeek.x509).

Read like ssl.log (pipeline/normalizers/zeek_tsv.py): TSV in its `#fields` order, else Zeek 4's
default order (later releases append `host_cert` and `client_cert`); JSON with the same keys.
Zeek >= 4 names a certificate by `fingerprint` (SHA-256 by default), Zeek 3 by its file `id`; one
of them is required. The certificate goes to ECS `tls.server.x509` (`tls.client.x509` for a
client certificate), its fingerprint to `tls.server.hash`, the distinguished names as Zeek wrote
them (RFC 2253, `\\,` inside a value) with their CN and O values picked out. Validity times may
predate 1970 or be printed as doubles (`2.385616957e+09`). x509.log names no connection: the
event has no source or destination.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8
from pipeline.normalizers.zeek_tsv import Layout, LogSpec, is_header, json_fields, layout, parse_ts, tsv_fields
from schemas.bounds import CutAtBounds
from schemas.ecs import MAX_NAMES
from schemas.event import X509, Event, EventMeta, Related, Secmon, Tls, TlsHash, TlsSide, X509Name
from schemas.ids import event_id, record_key
from schemas.types import Keyword, UtcDatetime

DATASET = "zeek.x509"
DEFAULT_FIELDS = (
    "ts",
    "fingerprint",
    "certificate.version",
    "certificate.serial",
    "certificate.subject",
    "certificate.issuer",
    "certificate.not_valid_before",
    "certificate.not_valid_after",
    "certificate.key_alg",
    "certificate.sig_alg",
    "certificate.key_type",
    "certificate.key_length",
    "certificate.exponent",
    "certificate.curve",
    "san.dns",
    "san.uri",
    "san.email",
    "san.ip",
    "basic_constraints.ca",
    "basic_constraints.path_len",
)
REQUIRED = ("ts", "certificate.subject", "certificate.issuer")
SANS = ("san.dns", "san.ip", "san.email", "san.uri")
SPEC = LogSpec(
    "x509.log",
    DEFAULT_FIELDS,
    REQUIRED,
    frozenset(DEFAULT_FIELDS) - {"basic_constraints.path_len"} | {"id", "host_cert", "client_cert"},
    vectors=frozenset(SANS),
)
KEY_TYPES = {"rsa": "RSA", "dsa": "DSA", "ecdsa": "ECDSA"}
HASHES = {32: "md5", 40: "sha1", 64: "sha256"}  # hex digits -> the hash Zeek was configured with
RDN = re.compile(r"(?:[^,\\]|\\.)+")  # one attribute=value of a DN, commas escaped as `\,`
# A headerless TSV row: epoch ts, a hex fingerprint or a file id, the version and a hex serial.
ROW = re.compile(rb"\d{9,10}\.\d{1,6}\t(?:[0-9a-f]{32,64}|F[0-9A-Za-z]{10,20})\t\d\t[0-9A-Fa-f]+\t")


class ZeekX509(CutAtBounds):
    """The x509.log columns secmon uses, by their Zeek names (other columns are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ts: UtcDatetime = Field(description="When the certificate was seen.")
    fingerprint: Keyword | None = Field(None, description="Hash of the DER certificate (Zeek >= 4).")
    file_id: Keyword | None = Field(None, alias="id", description="Zeek file id (Zeek < 4).")
    version: int | None = Field(None, alias="certificate.version", ge=0, le=100, description="X.509 version.")
    serial: Keyword | None = Field(None, alias="certificate.serial", description="Serial number (hex).")
    subject: Keyword = Field(alias="certificate.subject", description="Subject DN.")
    issuer: Keyword = Field(alias="certificate.issuer", description="Issuer DN.")
    not_before: UtcDatetime | None = Field(None, alias="certificate.not_valid_before", description="Validity start.")
    not_after: UtcDatetime | None = Field(None, alias="certificate.not_valid_after", description="Validity end.")
    key_alg: Keyword | None = Field(None, alias="certificate.key_alg", description="e.g. rsaEncryption.")
    sig_alg: Keyword | None = Field(None, alias="certificate.sig_alg", description="e.g. sha1WithRSAEncryption.")
    key_type: Keyword | None = Field(None, alias="certificate.key_type", description="rsa, dsa or ecdsa.")
    key_length: int | None = Field(None, alias="certificate.key_length", ge=0, le=1 << 20, description="Key bits.")
    exponent: int | None = Field(None, alias="certificate.exponent", ge=0, description="RSA exponent.")
    curve: Keyword | None = Field(None, alias="certificate.curve", description="EC curve.")
    san_dns: list[Keyword] = Field(default_factory=list, alias="san.dns", description="DNS names.")
    san_ip: list[Keyword] = Field(default_factory=list, alias="san.ip", description="IP addresses.")
    san_email: list[Keyword] = Field(default_factory=list, alias="san.email", description="Email addresses.")
    san_uri: list[Keyword] = Field(default_factory=list, alias="san.uri", description="URIs.")
    client_cert: bool | None = Field(None, description="A client's certificate (Zeek >= 6).")
    host_cert: bool | None = Field(None, description="The certificate of the host (not a chain's CA, Zeek >= 6).")

    @field_validator("ts", mode="before")
    @classmethod
    def _instant(cls, value: Any, info: ValidationInfo) -> datetime:
        return parse_ts(value, _tz(info))

    @field_validator("not_before", "not_after", mode="before")
    @classmethod
    def _validity(cls, value: Any, info: ValidationInfo) -> datetime:
        return parse_ts(value, _tz(info), signed=True)

    @field_validator("exponent", mode="before")
    @classmethod
    def _small_exponent(cls, value: Any) -> Any:
        # Zeek writes the exponent as text; one too long for a long is kept out rather than failing the row
        return None if isinstance(value, str) and (len(value) > 18 or not value.isdigit()) else value

    @model_validator(mode="after")
    def _named(self) -> ZeekX509:
        if not (self.fingerprint or self.file_id):
            raise ValueError("neither fingerprint nor id names the certificate")
        return self


def _tz(info: ValidationInfo) -> timezone:
    return info.context.get("tz", timezone.utc) if info.context else timezone.utc


@lru_cache(maxsize=256)  # the same header bytes arrive with every row
def header_layout(header: bytes | None) -> Layout:
    """The layout a `#fields` line defines (the default x509.log order without one)."""
    return layout(SPEC, header)


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One x509.log row (TSV or JSON) -> one certificate event; `#` lines -> []."""
    text = decode_utf8(record.data).rstrip("\r\n")
    if text.startswith("#"):
        return []
    fields = (
        json_fields(SPEC, text) if text.startswith(("{", "[")) else tsv_fields(SPEC, text, header_layout(record.header))
    )
    try:
        row = ZeekX509.model_validate(fields, context={"tz": options.default_tz})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ParseError("invalid_field", f"{where}: {first['msg']}") from None
    return [_to_event(row, record, text if options.keep_original else None)]


def dn_values(dn: str, attribute: str) -> list[str]:
    """The values of one attribute (CN, O, ...) in an RFC 2253 distinguished name."""
    values = []
    for rdn in RDN.findall(dn):
        key, _, value = rdn.partition("=")
        if key.strip().upper() == attribute:
            values.append(re.sub(r"\\(.)", r"\1", value.strip()))
    return values[:8]


def _to_event(row: ZeekX509, record: RawRecord, original: str | None) -> Event:
    names = list(dict.fromkeys(row.san_dns + row.san_ip + row.san_email + row.san_uri))[:MAX_NAMES]
    cert = X509(
        version_number=str(row.version) if row.version is not None else None,
        serial_number=row.serial,
        subject=_name(row.subject),
        issuer=_name(row.issuer),
        not_before=row.not_before,
        not_after=row.not_after,
        public_key_algorithm=KEY_TYPES.get(row.key_type or "", row.key_type or row.key_alg),
        public_key_size=row.key_length,
        public_key_exponent=row.exponent,
        public_key_curve=row.curve,
        signature_algorithm=row.sig_alg,
        alternative_names=names,
    )
    side = TlsSide(
        subject=row.subject, issuer=row.issuer, not_after=row.not_after, hash=_hash(row.fingerprint), x509=cert
    )
    client = row.client_cert is True and row.host_cert is not True
    return Event(
        timestamp=row.ts,
        message=_message(row, cert),
        event=EventMeta(
            id=event_id(record_key(record.origin, record.data), 0),
            category=["network"],
            type=["info"],
            dataset=DATASET,
            module="zeek_x509",
            provider="zeek",
            created=record.received,
            original=original,
        ),
        tls=Tls(client=side) if client else Tls(server=side),
        related=Related(hosts=[n for n in row.san_dns if n][:MAX_NAMES], ip=_ips(row.san_ip)),
        secmon=Secmon(origin=record.origin),
    )


def _name(dn: str) -> X509Name:
    return X509Name(distinguished_name=dn, common_name=dn_values(dn, "CN"), organization=dn_values(dn, "O"))


def _hash(fingerprint: str | None) -> TlsHash | None:
    kind = HASHES.get(len(fingerprint or ""))
    if not kind or not fingerprint or not re.fullmatch(r"[0-9A-Fa-f]+", fingerprint):
        return None
    return TlsHash(**{kind: fingerprint.lower()})


def _ips(values: list[str]) -> list[str]:
    found = []
    for value in values[:MAX_NAMES]:
        try:
            found.append(str(ipaddress.ip_address(value)))
        except ValueError:
            continue
    return list(dict.fromkeys(found))


def _message(row: ZeekX509, cert: X509) -> str:
    subject = ((cert.subject.common_name if cert.subject else None) or [row.subject])[0]
    issuer = ((cert.issuer.common_name if cert.issuer else None) or [row.issuer])[0]
    key = " ".join(str(p) for p in (cert.public_key_algorithm, row.key_length or row.curve) if p)
    until = f", valid until {row.not_after:%Y-%m-%d}" if row.not_after else ""
    return (
        f"certificate {subject} issued by {issuer} ({key or 'unknown key'}, {row.sig_alg or 'unknown signature'})"
        f"{until}, {'fingerprint ' + row.fingerprint[:16] if row.fingerprint else 'file ' + str(row.file_id)}"
    )


def _sniff(first: bytes) -> bool:
    # A TSV file starts with `#separator`, which every Zeek log shares: only rows and JSON are told apart.
    if first.startswith(b"{"):
        return b'"certificate.subject"' in first
    return ROW.match(first) is not None


NORMALIZER = Normalizer(
    id="zeek_x509",
    title="Zeek x509.log (TSV or JSON)",
    framing="line",
    parse=parse,
    sniff=_sniff,
    is_header=is_header,
)
