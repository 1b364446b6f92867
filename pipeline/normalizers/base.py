"""What a normalizer is: a pure function from one raw record to ECS events or a typed error."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.deadletter import ErrorCode
from schemas.errors import SecmonError
from schemas.event import Event, Origin

Framing = Literal["line", "document"]


@dataclass(frozen=True)
class RawRecord:
    """One unit of input as read: a line (or a whole document) and where it came from."""

    data: bytes
    origin: Origin
    received: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    header: bytes | None = None  # the latest header line of its file, for header-defined formats


@dataclass(frozen=True)
class ParseOptions:
    """Settings a normalizer may need: the year/timezone for syslog lines without them.

    `memory` is where a normalizer keeps what one record tells about the next ones of its source
    (sshd's lines of one connection: pipeline/normalizers/sshd_sessions.py), under its own id and
    bounded by it; one ParseOptions is made per parser, so it lives as long as the parser does."""

    default_year: int | None = None
    default_tz: tzinfo = timezone.utc
    keep_original: bool = False
    memory: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class ParseError(SecmonError):
    """A record that cannot be normalized; `code` is a bounded label, `reason` is for humans."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code: ErrorCode = code
        self.reason = reason


@dataclass(frozen=True)
class Normalizer:
    """A log source: its id (== module stem), framing, parse function and reading hooks.

    framing: "line" (one record per line, tailable) or "document" (the whole file is read, e.g. a
    pretty-printed JSON report). `split` cuts one line or document into self-contained records
    before they are shipped (e.g. CloudTrail `{"Records": [...]}` -> one record each), so Kafka
    messages stay small and each record gets its own id (origin.index). `is_header` marks lines
    that define the format of the lines after them (Zeek `#fields`, VPC flow log headers): the
    reader and the shipper attach the latest one to each record as `RawRecord.header`.
    `max_line_bytes` overrides how long one line may be before it is dead-lettered.
    """

    id: str
    title: str
    framing: Framing
    parse: Callable[[RawRecord, ParseOptions], list[Event]]
    sniff: Callable[[bytes], bool] = lambda _first: False
    split: Callable[[bytes], list[bytes]] | None = None
    is_header: Callable[[bytes], bool] | None = None
    max_line_bytes: int | None = None


def decode_utf8(data: bytes) -> str:
    """Decode a record as UTF-8 or raise ParseError(invalid_utf8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("invalid_utf8", f"record is not valid UTF-8 at byte {exc.start}") from None


def load_json_object(text: str) -> dict[str, Any]:
    """Parse a JSON object or raise ParseError with what was wrong (`loads_like_json`)."""
    try:
        value = loads_like_json(text)
    except RecursionError:
        raise ParseError("too_deep", "JSON nests too deeply to parse safely") from None
    except ValueError as exc:
        raise ParseError("invalid_json", f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ParseError("invalid_shape", f"expected a JSON object, got {type(value).__name__}")
    return value


_ZEROS = bytes.maketrans(b"123456789", b"000000000")  # every digit a 0: a run of digits is a run of 0s
_LONG_RUN = b"0" * 19


def loads_like_json(text: str | bytes) -> Any:
    """What json.loads gives (and raises), mostly at orjson's speed: orjson parses, the json module
    decides whatever orjson refuses (NaN, 1e400, lone surrogates, malformed input: its error is
    the one raised) or may have read otherwise (orjson turns integers beyond 64 bits into floats,
    so a result holding a float of that size is parsed again). Such an integer is written with at
    least 19 digits in a row: a text without such a run is not walked (finding it costs half a walk)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    if _LONG_RUN not in (text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text).translate(_ZEROS):
        return value
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            extend(item.values())
        elif kind is list:
            extend(item)
        elif kind is float and not -9.2e18 < item < 9.2e18:
            return json.loads(text)
    return value


# the largest whole-file document (e.g. a Trivy report) a normalizer is given in one piece
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], obj: Any) -> M:
    """Validate untrusted input against a boundary model, or raise ParseError(invalid_field) naming
    the first offending field."""
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ParseError("invalid_field", f"{where}: {first['msg']}") from None
