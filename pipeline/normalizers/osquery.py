"""osquery result logs (osqueryd.results.log): laptop posture, one JSON object per line.

Differential lines (`"columns": {...}, "action": "added"|"removed"`), snapshot lines
(`"snapshot": [...], "action": "snapshot"`) and batched differential lines (`"diffResults":
{"added": [...], "removed": [...]}`) are read. Every added or snapshot row of a query we know
becomes one event; a `removed` row yields nothing, because posture is state: a change arrives as
the old row removed plus the new row added, and the added row carries the new state.

Queries are recognised by the last part of their name (`pack_posture_disk_encryption`,
`pack/posture/disk_encryption`) or, failing that, by their columns; rows of other queries yield
nothing. osquery writes every value as a string unless `numerics` is true; both are accepted.
Posture fields are filled only from what a row says: NULL (`""`) columns stay unset.
Events are ECS `event.kind: state` (periodic reports of a host's state), category `host`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8, load_json_object
from schemas.event import Event, Host, OsInfo
from schemas.ids import event_id, record_key

DATASET = "laptop.posture"
QUERIES = ("disk_encryption", "screen_lock", "screenlock", "system_info", "os_version")
ACTIONS = {"screenlock": "screen_lock"}  # macOS table name and our cross-platform query: one action
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z: datetime cannot go further
CALENDAR_FORMAT = "%a %b %d %H:%M:%S %Y %Z"
Row = Mapping[str, Any]


@lru_cache(maxsize=1024)  # a host runs a handful of queries: names repeat on every line
def query_of_name(name: str) -> str | None:
    """The posture query a result name ends with (`pack_x_disk_encryption` -> disk_encryption)."""
    for query in QUERIES:
        if name == query or name.endswith(("_" + query, "/" + query)):
            return ACTIONS.get(query, query)
    return None


def query_of_columns(row: Row) -> str | None:
    """The posture query a row's columns identify, for results whose name says nothing."""
    if "encrypted" in row and ("encryption_status" in row or "type" in row):
        return "disk_encryption"
    if "screen_lock_enabled" in row or ("enabled" in row and "grace_period" in row):
        return "screen_lock"
    if "hardware_serial" in row or "computer_name" in row:
        return "system_info"
    if "platform" in row and "version" in row and "name" in row:
        return "os_version"
    return None


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One result line -> one event per added/snapshot row of a known query ([] otherwise)."""
    text = decode_utf8(record.data)
    result = load_json_object(text)
    name = _required(result, "name")
    host_id = _required(result, "hostIdentifier")
    rows = _rows(result)
    query = query_of_name(name)
    found = [(query or query_of_columns(row), row) for row in rows]
    known = [(q, row) for q, row in found if q is not None]
    if not known:
        return []
    decorations = result.get("decorations")
    decorations = decorations if isinstance(decorations, dict) else {}
    host = Host(
        name=_text(decorations.get("hostname"), "decorations.hostname") or host_id,
        id=_text(decorations.get("host_uuid"), "decorations.host_uuid"),
    )
    user = _text(decorations.get("username"), "decorations.username")
    base = _Base(
        record=record,
        when=_timestamp(result),
        host=host,
        host_identifier=host_id,
        user=user,
        original=text if options.keep_original else None,
    )
    key = record_key(record.origin, record.data)
    return [_event(base, q, row, event_id(key, i)) for i, (q, row) in enumerate(known)]


def _rows(result: Row) -> list[Row]:
    """The rows that state the host's posture now: added columns or the snapshot."""
    action = result.get("action")
    if "diffResults" in result:
        diff = result["diffResults"]
        if not isinstance(diff, dict):
            raise ParseError("invalid_shape", "diffResults: expected an object")
        return _row_list(diff.get("added", []), "diffResults.added")
    if action == "snapshot":
        return _row_list(result.get("snapshot"), "snapshot")
    if action in ("added", "removed"):
        columns = result.get("columns")
        if not isinstance(columns, dict):
            raise ParseError("invalid_shape", "columns: expected an object")
        return [columns] if action == "added" else []
    raise ParseError("invalid_field", f"action: expected added, removed or snapshot, got {_show(action)}")


def _row_list(value: Any, where: str) -> list[Row]:
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise ParseError("invalid_shape", f"{where}: expected a list of objects")
    return value


@dataclass(frozen=True, slots=True)
class _Base:
    """What every row of one result line shares."""

    record: RawRecord
    when: datetime
    host: Host
    host_identifier: str
    user: str | None
    original: str | None


def _event(base: _Base, query: str, row: Row, eid: str) -> Event:
    # a copy of the line's host for the readers to fill: a new one of its two (checked, so already
    # cut) strings, as a deep copy made, at a quarter of its cost
    host = Host(name=base.host.name, id=base.host.id)
    posture, summary = READERS[query](row, host)
    hosts = [
        h
        for h in (host.name, base.host_identifier, host.hostname, _text(row.get("computer_name"), "computer_name"))
        if h
    ]
    # one validation of plain data: building each nested model on its own cost twice as much. The
    # host the readers filled goes in as data too, so a value they set by assignment (system_info's
    # hostname) is checked, and cut at its bound, like every other field
    return Event.model_validate(
        {
            "timestamp": base.when,
            "message": f"{host.name} {query}: {summary}",
            "event": {
                "id": eid,
                "kind": "state",
                "category": ["host"],
                "type": ["info"],
                "action": f"posture_{query}",
                "dataset": DATASET,
                "module": "osquery",
                "provider": "osquery",
                "created": base.record.received,
                "original": base.original,
            },
            "host": host.model_dump(exclude_none=True),
            "user": {"name": base.user} if base.user else None,
            "related": {"user": [base.user] if base.user else [], "hosts": list(dict.fromkeys(hosts))},
            "secmon": {"origin": base.record.origin, "posture": posture},
        }
    )


def _disk_encryption(row: Row, _host: Host) -> tuple[dict[str, Any], str]:
    encrypted = _flag(row.get("encrypted"), "encrypted")
    if encrypted is None:  # older tables only say it in words
        status = row.get("encryption_status")
        encrypted = {"encrypted": True, "not encrypted": False}.get(status) if isinstance(status, str) else None
    kind = _text(row.get("type"), "type")
    disk = _text(row.get("name"), "name") or "disk"
    state = {True: "encrypted", False: "NOT encrypted", None: "encryption unknown"}[encrypted]
    return {"disk_encrypted": encrypted, "encryption_type": kind}, f"{disk} {state}{f' ({kind})' if kind else ''}"


def _screen_lock(row: Row, _host: Host) -> tuple[dict[str, Any], str]:
    if "screen_lock_enabled" in row:
        enabled = _flag(row.get("screen_lock_enabled"), "screen_lock_enabled")
        delay = _int(row.get("screen_lock_delay_seconds"), "screen_lock_delay_seconds")
    else:  # macOS screenlock table: grace_period -1 means no password is asked on wake
        enabled = _flag(row.get("enabled"), "enabled")
        delay = _int(row.get("grace_period"), "grace_period")
        if delay is not None and delay < 0:
            enabled, delay = False, None
    if delay is not None and delay < 0:
        raise ParseError("invalid_field", f"screen_lock_delay_seconds: negative ({delay})")
    after = f" after {delay}s" if enabled and delay is not None else ""
    state = {True: "on", False: "OFF", None: "unknown"}[enabled]
    return {"screen_lock_enabled": enabled, "screen_lock_delay_seconds": delay}, f"screen lock {state}{after}"


def _system_info(row: Row, host: Host) -> tuple[None, str]:
    host.hostname = _text(row.get("hostname"), "hostname")
    host.id = host.id or _text(row.get("uuid"), "uuid")
    serial = _text(row.get("hardware_serial"), "hardware_serial")
    return None, f"hostname {host.hostname or '?'}, serial {serial or '?'}"


def _os_version(row: Row, host: Host) -> tuple[None, str]:
    host.os = OsInfo(
        name=_text(row.get("name"), "name"),
        version=_text(row.get("version"), "version"),
        platform=_text(row.get("platform"), "platform"),
        family=_text(row.get("platform_like"), "platform_like"),
    )
    return None, f"{host.os.name or '?'} {host.os.version or '?'} ({host.os.platform or '?'})"


READERS: dict[str, Callable[[Row, Host], tuple[dict[str, Any] | None, str]]] = {
    "disk_encryption": _disk_encryption,
    "screen_lock": _screen_lock,
    "system_info": _system_info,
    "os_version": _os_version,
}


def _timestamp(result: Row) -> datetime:
    """unixTime (number or numeric string), else calendarTime; both are UTC."""
    unix = result.get("unixTime")
    if unix is not None:
        seconds = _int(unix, "unixTime")
        if seconds is None or not 0 <= seconds <= MAX_EPOCH:
            raise ParseError("invalid_field", f"unixTime: not a time: {_show(unix)}")
        return datetime.fromtimestamp(seconds, timezone.utc)
    calendar = result.get("calendarTime")
    if isinstance(calendar, str):
        try:
            return datetime.strptime(calendar, CALENDAR_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise ParseError("invalid_field", f"calendarTime: not a time: {_show(calendar)}") from None
    raise ParseError("invalid_field", "unixTime: missing (and no calendarTime)")


def _flag(value: Any, column: str) -> bool | None:
    """osquery booleans: "1"/"0" (numerics off) or 1/0 (numerics on); "" is NULL."""
    if value is None or value == "":
        return None
    if value in ("1", 1, True):
        return True
    if value in ("0", 0, False):
        return False
    raise ParseError("invalid_field", f"{column}: expected 1 or 0, got {_show(value)}")


def _int(value: Any, column: str) -> int | None:
    """osquery integers: digits in a string (numerics off) or a JSON integer; "" is NULL."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and len(value) <= 20 and value.lstrip("-").isdigit() and value.isascii():
        number = int(value)
    else:
        raise ParseError("invalid_field", f"{column}: expected an integer, got {_show(value)}")
    if not -(2**63) <= number < 2**63:
        raise ParseError("invalid_field", f"{column}: integer out of range")
    return number


def _text(value: Any, column: str) -> str | None:
    """A keyword column: strings only ("" is NULL); numbers are written as osquery would. An overlong
    one is cut at the schema bound where the event is built (schemas.bounds), not refused here."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ParseError("invalid_field", f"{column}: expected a string, got {_show(value)}")
    return value


def _required(result: Row, key: str) -> str:
    value = _text(result.get(key), key)
    if value is None:
        raise ParseError("invalid_field", f"{key}: missing")
    return value


def _show(value: Any) -> str:
    """A short rendering of an untrusted value for an error reason."""
    if isinstance(value, (dict, list)):  # never render untrusted nesting (deep JSON would recurse)
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sniff(first: bytes) -> bool:
    return (
        first.lstrip().startswith(b"{")
        and b'"hostIdentifier"' in first
        and b'"name"' in first
        and (b'"columns"' in first or b'"snapshot"' in first or b'"diffResults"' in first)
    )


NORMALIZER = Normalizer(
    id="osquery", title="osquery result logs: laptop posture (JSON lines)", framing="line", parse=parse, sniff=_sniff
)
