"""Zeek `ssl.log`: one TLS/SSL handshake per line, as Zeek's TSV (ASCII) writer or as JSON.

TSV: the column order comes from the file's `#fields` line (pipeline/normalizers/zeek_tsv.py reads
what all Zeek logs share). Without a header (e.g. rows produced to Kafka by another shipper) the
rows are read in Zeek's default ssl.log order, DEFAULT_FIELDS: its first 14 columns have been the
same in every Zeek release since 2.5 and later columns are ignored. Other `#` lines (`#separator`,
`#types`, `#close`, ...) carry no event and yield []. `-` is unset and `(empty)` is empty; both
become "absent". Only the default tab separator is read.

JSON (`LogAscii::use_json=T`): one object per line with the same keys (`"id.orig_h"`, ...); `ts` is
an epoch number or an ISO 8601 string (`JSON::TS_ISO8601`); one without an offset is read in the
configured timezone. Unknown keys are ignored.

Zeek writes non-printable bytes of strings (the client-controlled SNI above all) as `\\xHH`; they
are decoded, invalid UTF-8 becoming U+FFFD. Versions map to ECS as SSLv2/SSLv3 -> 2.0/3.0 "ssl",
TLSv10..TLSv13 (and TLS 1.3 drafts, `TLSv13-draft23`) -> 1.0..1.3 "tls", DTLSv10/12/13 -> "dtls"
over UDP; an unknown or unset version leaves tls.version empty and assumes TLS over TCP.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8
from pipeline.normalizers.zeek_tsv import Layout, LogSpec, is_header, json_fields, layout, parse_ts, tsv_fields
from schemas.bounds import CutAtBounds
from schemas.event import Event, Outcome
from schemas.ids import event_id, record_key
from schemas.types import IP, Keyword, UtcDatetime

DATASET = "zeek.ssl"
DEFAULT_FIELDS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "version",
    "cipher",
    "curve",
    "server_name",
    "resumed",
    "last_alert",
    "next_protocol",
    "established",
)
REQUIRED = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")
WANTED = frozenset(
    (
        "ts",
        "uid",
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "version",
        "cipher",
        "server_name",
        "established",
        "subject",
        "issuer",
    )
)
VERSIONS = {
    "SSLv2": ("2.0", "ssl"),
    "SSLv3": ("3.0", "ssl"),
    "TLSv10": ("1.0", "tls"),
    "TLSv11": ("1.1", "tls"),
    "TLSv12": ("1.2", "tls"),
    "TLSv13": ("1.3", "tls"),
    "DTLSv10": ("1.0", "dtls"),
    "DTLSv12": ("1.2", "dtls"),
    "DTLSv13": ("1.3", "dtls"),
}
OUTCOMES: dict[bool | None, Outcome | None] = {True: "success", False: "failure", None: None}
STATES = {True: "established", False: "not established", None: "state unknown"}
SPEC = LogSpec("ssl.log", DEFAULT_FIELDS, REQUIRED, WANTED)
# A headerless TSV row: epoch ts, uid, then the 4-tuple (sniffing cannot see a `#fields` line).
ROW = re.compile(
    rb"\d{9,10}\.\d{1,6}\tC[0-9A-Za-z]{10,20}\t[0-9A-Fa-f.:]+\t\d+\t[0-9A-Fa-f.:]+\t\d+\t(?:TLSv|DTLSv|SSLv)"
)


class ZeekSsl(CutAtBounds):
    """The ssl.log columns secmon uses, by their Zeek names (other columns are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ts: UtcDatetime = Field(description="When the handshake was first seen (epoch or ISO 8601).")
    uid: Keyword | None = Field(None, description="Zeek connection uid (joins conn.log).")
    orig_h: IP = Field(alias="id.orig_h", description="Client address.")
    orig_p: int = Field(alias="id.orig_p", ge=0, le=65535, description="Client port.")
    resp_h: IP = Field(alias="id.resp_h", description="Server address.")
    resp_p: int = Field(alias="id.resp_p", ge=0, le=65535, description="Server port.")
    version: Keyword | None = Field(None, description="Negotiated version, e.g. TLSv12.")
    cipher: Keyword | None = Field(None, description="Negotiated cipher suite.")
    server_name: Keyword | None = Field(None, description="SNI the client sent.")
    established: bool | None = Field(None, description="Whether the handshake completed.")
    subject: Keyword | None = Field(None, description="Server certificate subject (Zeek < 4).")
    issuer: Keyword | None = Field(None, description="Server certificate issuer (Zeek < 4).")

    @field_validator("ts", mode="before")
    @classmethod
    def _instant(cls, value: Any, info: ValidationInfo) -> datetime:
        tz = info.context.get("tz", timezone.utc) if info.context else timezone.utc
        return parse_ts(value, tz)


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One ssl.log row (TSV or JSON) -> one TLS connection event; `#` lines -> []."""
    text = decode_utf8(record.data).rstrip("\r\n")
    if text.startswith("#"):
        return []
    fields = (
        json_fields(SPEC, text) if text.startswith(("{", "[")) else tsv_fields(SPEC, text, header_layout(record.header))
    )
    try:
        row = ZeekSsl.model_validate(fields, context={"tz": options.default_tz})
        return [_to_event(row, record, text if options.keep_original else None)]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ParseError("invalid_field", f"{where}: {first['msg']}") from None


@lru_cache(maxsize=256)  # the same header bytes arrive with every row
def header_layout(header: bytes | None) -> Layout:
    """The layout a `#fields` line defines (the default ssl.log order without one)."""
    return layout(SPEC, header)


def _to_event(row: ZeekSsl, record: RawRecord, original: str | None) -> Event:
    # one validation of plain data: building each nested model on its own cost twice as much
    version, family = _version(row.version)
    side = {"subject": row.subject, "issuer": row.issuer} if row.subject or row.issuer else None
    return Event.model_validate(
        {
            "timestamp": row.ts,
            "message": _message(row),
            "event": {
                "id": event_id(record_key(record.origin, record.data), 0),
                "category": ["network"],
                "type": ["connection", "protocol"],
                "outcome": OUTCOMES[row.established],
                "dataset": DATASET,
                "module": "zeek_ssl",
                "provider": "zeek",
                "created": record.received,
                "original": original,
            },
            "source": {"ip": row.orig_h, "port": row.orig_p, "address": row.orig_h},
            "destination": {"ip": row.resp_h, "port": row.resp_p, "address": row.resp_h, "domain": row.server_name},
            "network": {"transport": "udp" if family == "dtls" else "tcp", "protocol": family or "tls"},
            "tls": {
                "version": version,
                "version_protocol": family,
                "cipher": row.cipher,
                "established": row.established,
                "server": side,
            },
            "related": {
                "ip": list(dict.fromkeys((row.orig_h, row.resp_h))),
                "hosts": [row.server_name] if row.server_name else [],
            },
            "secmon": {"origin": record.origin},
        }
    )


def _version(zeek_version: str | None) -> tuple[str | None, str | None]:
    if zeek_version is None:
        return None, None
    if zeek_version.startswith("TLSv13-draft"):  # pre-RFC 8446 drafts, still seen in 2018 captures
        return "1.3", "tls"
    return VERSIONS.get(zeek_version, (None, None))


def _message(row: ZeekSsl) -> str:
    state = STATES[row.established]
    sni = f" ({row.server_name})" if row.server_name else ""
    return (
        f"{row.version or 'TLS/SSL'} {_hostport(row.orig_h, row.orig_p)} -> {_hostport(row.resp_h, row.resp_p)}"
        f"{sni} {state}, uid {row.uid or '-'}"
    )


def _hostport(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _sniff(first: bytes) -> bool:
    # A TSV file starts with `#separator`, which every Zeek log shares: only rows and JSON are told apart.
    if first.startswith(b"{"):
        return b'"id.orig_h"' in first and (b'"cipher"' in first or b'"ssl_history"' in first)
    return ROW.match(first) is not None


NORMALIZER = Normalizer(
    id="zeek_ssl",
    title="Zeek ssl.log (TSV or JSON)",
    framing="line",
    parse=parse,
    sniff=_sniff,
    is_header=is_header,
)
