"""AWS VPC flow logs: space-separated rows, the v2 default format or a custom one named by a header.

Files delivered to S3 start with a header line naming the fields of every row after it (`version
account-id interface-id srcaddr ...`); the reader attaches it to each record as `record.header`.
A row without a header is read as the v2 default format. `-` marks a field with no value;
NODATA/SKIPDATA rows record that nothing (or nothing readable) was captured, so they yield no event.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8
from schemas.event import Event
from schemas.ids import event_id, record_key

DATASET = "aws.vpcflow"
DEFAULT_FIELDS = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)
# Every field AWS documents (v2-v8); a header must name at least two of them, which no data row does.
KNOWN_FIELDS = frozenset(DEFAULT_FIELDS) | {
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
}
KNOWN_FIELDS_BYTES = frozenset(f.encode() for f in KNOWN_FIELDS)
# A header is field names only: lowercase words joined by hyphens. Data rows always hold a digit-led
# token (version, port, time) or `-`, so the first such token rejects them.
HEADER = re.compile(rb"^[a-z][a-z0-9-]*(?:[ \t]+[a-z][a-z0-9-]*)+[ \t]*$")
DEFAULT_ROW = re.compile(
    rb"^2 (?:\d{12}|-|unknown) (?:eni-[0-9a-f]+|-) \S+ \S+ \S+ \S+ \S+ \S+ \S+ \d+ \d+ "
    rb"(?:ACCEPT|REJECT|-) (?:OK|NODATA|SKIPDATA)[ \t]*$"
)
TRANSPORTS = {
    1: "icmp",
    2: "igmp",
    4: "ipv4",
    6: "tcp",
    17: "udp",
    41: "ipv6",
    47: "gre",
    50: "esp",
    51: "ah",
    58: "ipv6-icmp",
    132: "sctp",
}
PORTLESS = frozenset({1, 58})
ACTIONS = {"ACCEPT": ("accept", "success", "allowed"), "REJECT": ("reject", "failure", "denied")}
NO_EVENT = frozenset({"NODATA", "SKIPDATA"})
MAX_COUNT = 2**63 - 1  # ES long


def is_header(line: bytes) -> bool:
    """True for a field-name line: every token a lowercase hyphenated name, two or more of them known
    VPC flow log fields (e.g. `version account-id interface-id srcaddr ...`)."""
    if not HEADER.match(line):
        return False
    return sum(1 for token in line.split() if token in KNOWN_FIELDS_BYTES) >= 2


@dataclass(frozen=True)
class Layout:
    """Where each field sits in a row of one format."""

    count: int
    positions: dict[str, int]

    def row(self, tokens: list[str]) -> dict[str, str]:
        """The known fields of one row by name, without those marked `-` (no value)."""
        return {name: tokens[pos] for name, pos in self.positions.items() if tokens[pos] != "-"}


@lru_cache(maxsize=256)  # one entry per distinct header; a file repeats its header on every record
def _layout(header: bytes | None) -> Layout:
    if header is None:
        names = list(DEFAULT_FIELDS)
    elif is_header(header):
        names = header.decode("ascii").split()
    else:
        raise ParseError("invalid_shape", f"format header is not a VPC flow log field list: {header[:80]!r}")
    if "start" not in names and "end" not in names:
        raise ParseError("invalid_shape", "format header names neither start nor end: rows have no time")
    return Layout(count=len(names), positions={n: i for i, n in enumerate(names) if n in KNOWN_FIELDS})


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One flow log row -> one network connection event; header, NODATA and SKIPDATA rows -> []."""
    if is_header(record.data):
        return []  # reached us without the reader's header hook (e.g. another shipper): not a flow
    text = decode_utf8(record.data)
    tokens = text.split()
    if not tokens:
        return []
    layout = _layout(record.header)
    _check_shape(tokens, layout, record.header is None)
    row = layout.row(tokens)
    status = row.get("log-status")
    if status in NO_EVENT:
        return []
    if status not in (None, "OK"):
        raise ParseError("invalid_field", f"log-status: expected OK, NODATA or SKIPDATA, got {status[:32]!r}")
    return [_to_event(row, record, text if options.keep_original else None)]


def _check_shape(tokens: list[str], layout: Layout, default_format: bool) -> None:
    if default_format and tokens[0] != "2":
        if not tokens[0].isdigit():
            raise ParseError(
                "unrecognized_line", f"not a VPC flow log row: no version number first, got {tokens[0][:16]!r}"
            )
        raise ParseError("unrecognized_line", f"version {tokens[0][:16]!r} row without a header line naming its fields")
    if len(tokens) != layout.count:
        which = "the v2 default format (no header line seen)" if default_format else "the file's header"
        raise ParseError("unrecognized_line", f"row has {len(tokens)} fields, {which} names {layout.count}")


def _to_event(row: dict[str, str], record: RawRecord, original: str | None) -> Event:
    start, end = _time(row.get("start"), "start"), _time(row.get("end"), "end")
    if start is None and end is None:
        raise ParseError("invalid_field", "start, end: a row with log-status OK has no time")
    proto = _int(row.get("protocol"), "protocol", 255)
    source, destination = _endpoints(row, proto)
    action, outcome, verdict = _action(row.get("action"))
    account, instance = row.get("account-id"), row.get("instance-id")
    # one validation of plain data: building each nested model on its own cost twice as much
    return Event.model_validate(
        {
            "timestamp": start or end,
            "message": _message(row, proto, source, destination),
            "event": {
                "id": event_id(record_key(record.origin, record.data), 0),
                "category": ["network"],
                "type": ["connection", verdict] if verdict else ["connection"],
                "action": action,
                "outcome": outcome,
                "reason": row.get("reject-reason"),
                "dataset": DATASET,
                "module": "vpcflow",
                "created": record.received,
                "start": start,
                "end": end,
                "original": original,
            },
            "source": source,
            "destination": destination,
            "network": _network(row, proto, source),
            "cloud": {"provider": "aws", "region": row.get("region"), "account": {"id": account} if account else None},
            "host": {"id": instance} if instance else None,
            "related": {
                "ip": _related_ips(source["ip"], destination["ip"], _ip(row, "pkt-srcaddr"), _ip(row, "pkt-dstaddr"))
            },
            "secmon": {"origin": record.origin},
        }
    )


def _endpoints(row: dict[str, str], proto: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(source, destination): the sender of this one-directional flow carries its byte and packet counts."""
    portless = proto in PORTLESS  # ICMP has types and codes, not ports; the port fields then say 0
    source = {
        "ip": _ip(row, "srcaddr"),
        "address": row.get("srcaddr"),
        "port": None if portless else _int(row.get("srcport"), "srcport", 65535),
        "bytes": _int(row.get("bytes"), "bytes", MAX_COUNT),
        "packets": _int(row.get("packets"), "packets", MAX_COUNT),
    }
    destination = {
        "ip": _ip(row, "dstaddr"),
        "address": row.get("dstaddr"),
        "port": None if portless else _int(row.get("dstport"), "dstport", 65535),
    }
    return source, destination


def _network(row: dict[str, str], proto: int | None, source: dict[str, Any]) -> dict[str, Any]:
    direction = row.get("flow-direction")
    return {
        "transport": TRANSPORTS.get(proto) if proto is not None else None,
        "iana_number": str(proto) if proto is not None else None,
        "bytes": source["bytes"],
        "packets": source["packets"],
        "direction": direction if direction in ("ingress", "egress") else None,
    }


def _action(value: str | None) -> tuple[str | None, str, str | None]:
    if value is None:
        return None, "unknown", None
    try:
        return ACTIONS[value]
    except KeyError:
        raise ParseError("invalid_field", f"action: expected ACCEPT or REJECT, got {value[:32]!r}") from None


def _int(value: str | None, name: str, maximum: int) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= maximum):
        raise ParseError("invalid_field", f"{name}: expected an integer 0-{maximum}, got {value[:32]!r}")
    return int(value)


def _time(value: str | None, name: str) -> datetime | None:
    seconds = _int(value, name, 253402300799)  # 9999-12-31T23:59:59Z, the last instant datetime holds
    return None if seconds is None else _from_epoch(seconds)


@lru_cache(maxsize=4096)  # rows of one capture window share their start and end
def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _ip(row: dict[str, str], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        return _canonical_ip(value)
    except ValueError:
        raise ParseError("invalid_field", f"{name}: not an IP address: {value[:64]!r}") from None


@lru_cache(maxsize=65536)
def _canonical_ip(value: str) -> str:
    addr = ipaddress.ip_address(value)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def _related_ips(*ips: str | None) -> list[str]:
    return list(dict.fromkeys(ip for ip in ips if ip))


def _message(row: dict[str, str], proto: int | None, source: dict[str, Any], destination: dict[str, Any]) -> str:
    transport = TRANSPORTS.get(proto, str(proto)) if proto is not None else "-"
    text = f"{row.get('action', '-')} {transport} {_host_port(source)} -> {_host_port(destination)}"
    interface = row.get("interface-id")
    return f"{text} on {interface}" if interface else text


def _host_port(end: dict[str, Any]) -> str:
    ip, port = end["ip"], end["port"]
    host = f"[{ip}]" if ip and ":" in ip else (ip or "-")
    return f"{host}:{port}" if port is not None else host


def _sniff(first: bytes) -> bool:
    return bool(DEFAULT_ROW.match(first)) or (is_header(first) and b"srcaddr" in first.split())


NORMALIZER = Normalizer(
    id="vpcflow",
    title="AWS VPC flow logs (v2 default or custom format with header)",
    framing="line",
    parse=parse,
    sniff=_sniff,
    is_header=is_header,
)
