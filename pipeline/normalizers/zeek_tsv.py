"""What every Zeek log shares: its time values, the ASCII writer's `#fields` header and escapes.

TSV rows take their column order from the file's `#fields` line (`is_header` marks it; the reader
and the shipper hand every row its file's latest one as `record.header`). Without a header a log's default order applies, where
later Zeek releases may have appended columns. `-` is unset and `(empty)` is empty; both become
absent. Only the default tab separator is read; set and vector columns are split on `,` (an element's
own commas are escaped). JSON logs (`LogAscii::use_json=T`) use the same names as keys. Zeek writes
non-printable bytes of strings as `\\xHH` and a backslash doubled; both are decoded, invalid UTF-8
becoming U+FFFD.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from pipeline.normalizers.base import ParseError, load_json_object

UNSET = frozenset(("-", "(empty)"))
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last instant a datetime holds
MIN_EPOCH = -62135596800  # 0001-01-01T00:00:00Z: certificates may predate 1970
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EPOCH_TEXT = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?")
# Zeek prints large or negative times as a double: 2.385616957e+09, -1.0e+02
FLOAT_TEXT = re.compile(r"-?\d{1,20}(?:\.\d{1,20})?(?:[eE][+-]?\d{1,3})?")
# The ASCII writer's escapes: a backslash doubled, any other byte it will not print as \xHH;
# JSON strings carry only the \xHH ones (JSON escapes its own backslashes).
TSV_ESCAPE = re.compile(rb"\\(?:\\|x([0-9A-Fa-f]{2}))")
JSON_ESCAPE = re.compile(rb"\\x([0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class LogSpec:
    """One Zeek log's columns: the default order, those a row must have, those secmon reads."""

    name: str  # e.g. ssl.log, for error messages
    default_fields: tuple[str, ...]
    required: tuple[str, ...]
    wanted: frozenset[str]
    vectors: frozenset[str] = frozenset()  # set/vector columns: comma-separated in TSV, lists in JSON


class Layout(NamedTuple):
    """Where the wanted columns are in a TSV row, and how many columns a row must have."""

    columns: int
    exact: bool  # False for the default order: later Zeek releases append columns
    wanted: tuple[tuple[int, str], ...]


def parse_ts(value: Any, tz: timezone, signed: bool = False) -> datetime:
    """A Zeek time: epoch seconds (number or text, microseconds kept exactly) or ISO 8601.

    `signed` admits times before 1970 (a certificate's validity), which a log record's ts never is."""
    if isinstance(value, str):
        m = EPOCH_TEXT.fullmatch(value)
        if m is not None:
            micros = int(m.group(1)) * 1_000_000 + int((m.group(2) or "").ljust(6, "0")[:6])
            if micros > MAX_EPOCH * 1_000_000:
                raise ValueError("epoch seconds out of range")
            return EPOCH + timedelta(microseconds=micros)
        if FLOAT_TEXT.fullmatch(value) is None:
            return _iso(value, tz)
        value = float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError("expected epoch seconds or an ISO 8601 string")
    if not math.isfinite(value) or not (MIN_EPOCH if signed else 0) <= value <= MAX_EPOCH:
        raise ValueError("epoch seconds out of range")
    return EPOCH + timedelta(microseconds=round(value * 1_000_000))  # exact to the microsecond until 2255


def _iso(value: str, tz: timezone) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not epoch seconds nor an ISO 8601 time") from None
    try:  # converted here: at year 1 or 9999 the UTC conversion overflows, which pydantic would not catch
        return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)).astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("ISO 8601 time out of range once converted to UTC") from None


def decode(value: str, escapes: re.Pattern[bytes] = TSV_ESCAPE) -> str:
    """A string as Zeek wrote it with its escapes decoded."""
    if "\\" not in value:
        return value
    raw = escapes.sub(lambda m: bytes((int(m.group(1), 16),)) if m.group(1) else b"\\", value.encode("utf-8"))
    return raw.decode("utf-8", "replace")


def json_fields(spec: LogSpec, text: str) -> dict[str, Any]:
    """The wanted keys of a JSON row, strings decoded."""
    obj = load_json_object(text)
    return {k: _json_value(v) for k, v in obj.items() if k in spec.wanted}


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        return decode(value, JSON_ESCAPE)
    return [_json_value(v) for v in value] if isinstance(value, list) else value


def tsv_fields(spec: LogSpec, text: str, grid: Layout) -> dict[str, str | list[str]]:
    """The wanted, set columns of a TSV row laid out as `grid`, by name."""
    values = text.split("\t")
    if len(values) < grid.columns or (grid.exact and len(values) != grid.columns):
        raise ParseError(
            "invalid_shape",
            f"row has {len(values)} columns, expected {grid.columns}"
            f"{' (#fields header)' if grid.exact else f' (default {spec.name} order) or more'}",
        )
    return {
        name: [decode(v) for v in values[i].split(",")] if name in spec.vectors else decode(values[i])
        for i, name in grid.wanted
        if values[i] not in UNSET
    }


def layout(spec: LogSpec, header: bytes | None) -> Layout:
    """The layout a `#fields` line defines (the log's default order without one); each log caches
    its own, as the same header bytes arrive with every row."""
    if header is None or not is_header(header):
        return _layout(spec, spec.default_fields, exact=False)
    columns = tuple(header.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")[1:])
    missing = [name for name in spec.required if name not in columns]
    if missing:
        raise ParseError("invalid_shape", f"#fields header lacks {', '.join(missing)}: not an {spec.name}")
    return _layout(spec, columns, exact=True)


def _layout(spec: LogSpec, columns: tuple[str, ...], exact: bool) -> Layout:
    return Layout(len(columns), exact, tuple((i, name) for i, name in enumerate(columns) if name in spec.wanted))


def is_header(line: bytes) -> bool:
    """True for the `#fields` line that names the TSV columns of the rows after it."""
    return line.startswith(b"#fields\t")
