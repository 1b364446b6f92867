"""Web server access logs: Apache/nginx "combined" and "common", and our nginx `secmon_tls` format.

One request per line, fields separated by single spaces (the order is fixed, so one precompiled
regex reads all three formats; the optional groups are what tells them apart):

    common      $remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent
    combined    <common> "$http_referer" "$http_user_agent"
    secmon_tls  <combined> $ssl_protocol $ssl_cipher $request_time $server_addr:$server_port

`secmon_tls` is the nginx format we define (README "Input: web access logs"):

    log_format secmon_tls '$remote_addr - $remote_user [$time_local] "$request" $status '
                          '$body_bytes_sent "$http_referer" "$http_user_agent" '
                          '$ssl_protocol $ssl_cipher $request_time $server_addr:$server_port';

The trailing `$server_addr:$server_port` may be left out. An IPv6 `$server_addr` is written by nginx
without brackets; the port is whatever follows the last colon. On a plain-HTTP server nginx writes
`-` for `$ssl_protocol` and `$ssl_cipher`.

Quoted fields may carry Apache's backslash escapes (`\\"`, `\\\\`, `\\n`) and nginx's `\\xHH`; they
are decoded before use. A request line that is not `METHOD target [HTTP/x.y]` (a TLS handshake sent
to a plain-HTTP port logs as `"\\x16\\x03\\x01..." 400`) or `"-"` (no request was read) still yields an
event, with `event.action` `malformed_request` or `empty_request` and no url/method fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8
from schemas.event import Event
from schemas.ids import event_id, record_key
from schemas.types import IP

DATASET = "web.access"
MAX_LONG = 2**63 - 1  # Elasticsearch `long`

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled loop: fast, and `\"` stays inside the field
LINE = re.compile(
    r"(\S+) \S+ (.+?) \[(\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    + _QUOTED
    + r" (\d{3}) (\d+|-)"
    + r"(?: "
    + _QUOTED
    + " "
    + _QUOTED
    + r"(?: (\S+) (\S+) (\d{1,9}(?:\.\d{1,9})?|-)(?: (\S+))?)?)?",
    re.S,
)
REQUEST = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,31}) (\S.*?)(?: HTTP/(\d(?:\.\d)?))?", re.S)
ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[\"\\bnrtv])")
SIMPLE_ESCAPES = {b'"': b'"', b"\\": b"\\", b"b": b"\b", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
AUTHORITY = re.compile(r"\[?([A-Za-z0-9_.:-]+?)\]?:\d{1,5}")
HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")
TLS_PROTOCOL = re.compile(r"(SSL|TLS)v(\d)(?:\.(\d))?")
MONTHS = {
    m: i
    for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)
}
_IP = TypeAdapter(IP)


@dataclass(frozen=True, slots=True)
class AccessLine:
    """One access-log line split into its fields (validated by LINE; `-` already turned into None).

    A dataclass rather than a pydantic model: LINE has checked every field's shape, and this runs
    once per request in a stream of millions.
    """

    client: str
    user: str | None
    time: str
    request: str
    status: int
    body_bytes: int | None
    referrer: str | None = None
    user_agent: str | None = None
    tls_protocol: str | None = None
    tls_cipher: str | None = None
    request_time: str | None = None
    server: str | None = None


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One access-log line -> one web access event."""
    text = decode_utf8(record.data)
    line = split_line(text)
    try:
        return [_to_event(line, record, text if options.keep_original else None)]
    except ValidationError as exc:  # e.g. a URL longer than the schema allows
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise ParseError("invalid_field", f"{where}: {first['msg']}") from None


def split_line(text: str) -> AccessLine:
    """The fields of one line, or ParseError(unrecognized_line) when it is not in a known format."""
    m = LINE.fullmatch(text.rstrip("\r\n"))
    if m is None:
        raise ParseError("unrecognized_line", "not an access log line in common, combined or secmon_tls format")
    client, user, time, request, status, size, referrer, agent, proto, cipher, rtime, server = m.groups()
    return AccessLine(
        client=client,
        user=_unset(unescape(user)),
        time=time,
        request=request,
        status=int(status),
        body_bytes=None if size == "-" else _long(size, "body_bytes_sent"),
        referrer=_unset(unescape(referrer)),
        user_agent=_unset(unescape(agent)),
        tls_protocol=_unset(proto),
        tls_cipher=_unset(cipher),
        request_time=_unset(rtime),
        server=server,
    )


def unescape(value: str | None) -> str | None:
    """Decode Apache/nginx log escapes (`\\"`, `\\\\`, `\\n`, `\\xHH`); invalid UTF-8 becomes U+FFFD."""
    if value is None or "\\" not in value:
        return value
    raw = ESCAPE.sub(_unescape_one, value.encode("utf-8"))
    return raw.decode("utf-8", "replace")


def _unescape_one(m: re.Match[bytes]) -> bytes:
    code = m.group(1)
    return bytes((int(code[1:], 16),)) if len(code) == 3 else SIMPLE_ESCAPES[code]


def _unset(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def _long(digits: str, name: str) -> int:
    if len(digits) > 19 or int(digits) > MAX_LONG:  # the length check keeps int() cheap on junk
        raise ParseError("invalid_field", f"{name}: {digits[:30]} is larger than a 64-bit integer")
    return int(digits)


@lru_cache(maxsize=4096)  # one timestamp per second of traffic: most lines repeat the previous one
def parse_time(text: str) -> datetime:
    """`30/Nov/2026:08:01:02 +0100` (shape checked by LINE) -> an aware UTC datetime."""
    month = MONTHS.get(text[3:6].capitalize())
    if month is None:
        raise ParseError("invalid_field", f"time_local: unknown month {text[3:6]!r}")
    hours, minutes = int(text[22:24]), int(text[24:26])
    if hours > 23 or minutes > 59:
        raise ParseError("invalid_field", f"time_local: UTC offset {text[21:26]} is out of range")
    try:
        tz = timezone(timedelta(hours=hours, minutes=minutes) * (-1 if text[21] == "-" else 1))
        local = datetime(
            int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]), int(text[18:20]), tzinfo=tz
        )
        return local.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ParseError("invalid_field", f"time_local: {text!r} is not a valid time ({exc})") from None


@lru_cache(maxsize=65536)  # the same clients recur: validate each address once
def canonical_ip(text: str) -> str | None:
    """The canonical form of an IP through the schema's IP type, or None when it is not an IP."""
    try:
        return _IP.validate_python(text)
    except ValidationError:
        return None


def _to_event(line: AccessLine, record: RawRecord, original: str | None) -> Event:
    # one validation of plain data: building each nested model on its own cost twice as much
    related: dict[str, list[str]] = {"ip": [], "user": [], "hosts": []}
    source = _source(line.client, related)
    request = _request(line.request)
    if line.user:
        related["user"].append(line.user)
    domain = request.url.get("domain") if request.url is not None else None
    if domain:
        _relate_host(domain, related)
    destination = _destination(line.server, related) if line.server else None
    return Event.model_validate(
        {
            "timestamp": parse_time(line.time),
            "message": f"{request.summary} {line.status}",
            "event": {
                "id": event_id(record_key(record.origin, record.data), 0),
                "category": ["web"],
                "type": ["access"],
                "action": request.action,
                "outcome": "success" if line.status < 400 else "failure",
                "dataset": DATASET,
                "module": "web_access",
                "created": record.received,
                "duration": _duration_ns(line.request_time),
                "original": original,
            },
            "source": source,
            "destination": destination,
            "user": {"name": line.user} if line.user else None,
            "user_agent": {"original": line.user_agent} if line.user_agent else None,
            "url": request.url,
            "http": _http(line, request),
            "tls": _tls(line.tls_protocol, line.tls_cipher),
            "related": related,
            "secmon": {"origin": record.origin},
        }
    )


@dataclass(frozen=True, slots=True)
class Request:
    """What the request line says: method, URL, HTTP version, or why it could not be read."""

    summary: str
    method: str | None = None
    url: dict[str, str | None] | None = None  # url.*
    version: str | None = None
    action: str | None = None


def _request(raw: str) -> Request:
    if raw == "-":
        return Request(summary="no request line", action="empty_request")
    m = REQUEST.fullmatch(unescape(raw) or "")
    if m is None:
        # keep the escaped form in the message: the raw bytes are usually binary (TLS, RDP, SMB probes)
        return Request(summary=f'malformed request "{raw[:200]}"', action="malformed_request")
    method, target, version = m.groups()
    return Request(summary=f"{method} {target[:1000]}", method=method, url=_url(target), version=version)


def _http(line: AccessLine, request: Request) -> dict[str, Any]:
    body = {"bytes": line.body_bytes} if line.body_bytes is not None else None
    has_request = request.method is not None or line.referrer is not None
    return {
        "version": request.version,
        "request": {"method": request.method, "referrer": line.referrer} if has_request else None,
        "response": {"status_code": line.status, "body": body},
    }


def _url(target: str) -> dict[str, str | None]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return {"original": target, "path": path, "query": query or None}
    if "://" in target:  # absolute form: proxy probes ("GET http://example.com/ HTTP/1.1")
        try:
            parts = urlsplit(target)
            return {
                "original": target,
                "domain": parts.hostname or None,
                "path": parts.path or None,
                "query": parts.query or None,
            }
        except ValueError:
            pass
    authority = AUTHORITY.fullmatch(target)  # CONNECT host:443: the host a client tunnels to
    return {"original": target, "domain": authority.group(1) if authority else None}


def _source(client: str, related: dict[str, list[str]]) -> dict[str, Any]:
    ip = canonical_ip(client)
    if ip is not None:
        related["ip"].append(ip)
        return {"ip": ip, "address": client}
    if HOSTNAME.fullmatch(client) is None:
        raise ParseError("invalid_field", f"remote_addr: {client[:100]!r} is neither an IP nor a host name")
    related["hosts"].append(client)
    return {"domain": client, "address": client}


def _destination(server: str, related: dict[str, list[str]]) -> dict[str, Any]:
    addr, _, port = server.rpartition(":")
    ip = canonical_ip(addr)
    if ip is None or not port.isdigit() or len(port) > 5 or int(port) > 65535:
        raise ParseError("invalid_field", f"server_addr:server_port: {server[:100]!r} is not IP:port")
    if ip not in related["ip"]:
        related["ip"].append(ip)
    return {"ip": ip, "port": int(port), "address": addr}


def _relate_host(host: str, related: dict[str, list[str]]) -> None:
    ip = canonical_ip(host)
    if ip is None and host not in related["hosts"]:
        related["hosts"].append(host)
    elif ip is not None and ip not in related["ip"]:
        related["ip"].append(ip)


def _duration_ns(request_time: str | None) -> int | None:
    if request_time is None:
        return None
    whole, _, frac = request_time.partition(".")  # exact: no float rounding of "0.123"
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, "0"))


def _tls(protocol: str | None, cipher: str | None) -> dict[str, Any] | None:
    if protocol is None and cipher is None:
        return None
    m = TLS_PROTOCOL.fullmatch(protocol or "")
    if m is None:  # unknown or absent protocol name: keep the cipher, guess no version
        return {"cipher": cipher}
    family, major, minor = m.groups()
    return {"version": f"{major}.{minor or 0}", "version_protocol": family.lower(), "cipher": cipher}


def _sniff(first: bytes) -> bool:
    return LINE.fullmatch(first.rstrip(b"\r\n").decode("utf-8", "replace")) is not None


NORMALIZER = Normalizer(
    id="web_access",
    title="Web access logs (Apache/nginx common, combined, secmon_tls)",
    framing="line",
    parse=parse,
    sniff=_sniff,
)
