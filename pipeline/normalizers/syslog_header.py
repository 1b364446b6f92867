"""Envelopes around one program's log message: syslog headers and journald JSON entries.

A syslog-borne source (sshd, sudo, ...) only cares about who logged what and when. This module
reads the three syslog header forms found on Linux hosts and `journalctl -o json` objects, and
hands back a `LogLine` only for the programs the caller asked for, so lines from every other
program are skipped before their timestamp is even parsed:

- RFC 3164 / BSD: `Nov 30 08:01:02 host sshd[123]: msg` (no year and no zone: the context's year,
  else the year that does not put the line in the future; the context's zone),
- RFC 5424: `<34>1 2026-11-30T08:01:02.123+01:00 host sshd 123 - - msg`,
- rsyslog's ISO form: `2026-11-30T08:01:02.123456+00:00 host sshd[123]: msg`,
- a bracketed tag without pid, from older syslog daemons: `Nov 30 08:01:02 [sshd]: msg` (or no colon),
- journald: one JSON object per line, MESSAGE as text or as byte values when not UTF-8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Annotated

from pydantic import ConfigDict, Field, StrictInt, StrictStr, ValidationError

from pipeline.normalizers.base import ParseError, ParseOptions, load_json_object
from schemas.bounds import CutAtBounds

# A BSD timestamp more than this far ahead of the moment the line was read was written last year.
FUTURE_SLACK = timedelta(days=1)
MAX_JOURNAL_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z, datetime's ceiling
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}

# `[prog]:` or `[prog]` (no pid) is what some older syslog daemons wrote for a program tag.
_TAG = (
    r"(?:(?P<host>[^\s\[\]]*[^\s\[\]:]) )?"
    r"(?:(?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>\d{1,10})\])?:|\[(?P<bprog>[^\s\[\]:]+)\]:?)(?: (?P<msg>.*))?"
)
_BSD_OR_ISO = re.compile(
    r"(?:<\d{1,3}>)?(?:(?P<mon>" + "|".join(MONTHS) + r") {1,2}(?P<day>\d\d?) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?"
    r"|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)) " + _TAG,
    re.DOTALL,
)
# Structured data may quote `]` and escape anything, so it is matched element by element.
_RFC5424 = re.compile(
    r"<\d{1,3}>1 (?P<ts>\S+) (?P<host>\S+) (?P<prog>\S+) (?P<procid>\S+) \S+ "
    r'(?:-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: (?P<msg>.*))?',
    re.DOTALL,
)
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?")
# sysklogd's own summary line carries no program: valid syslog, nothing to say about it.
_LAST_REPEATED = re.compile(
    r"(?:<\d{1,3}>)?[A-Z][a-z]{2} {1,2}\d\d? \d\d:\d\d:\d\d (?:\S+ )?last message repeated \d+ times?"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log entry's envelope: when, on which host, which program and process, and its message."""

    timestamp: datetime
    host: str | None
    program: str
    pid: int | None
    message: str


def parse_envelope(text: str, options: ParseOptions, received: datetime, programs: frozenset[str]) -> LogLine | None:
    """The envelope of a syslog line or journald JSON object; None when another program logged it.

    Raises ParseError("unrecognized_line") for text that is neither, and invalid_* errors for
    a well-formed envelope with an impossible value (a 31st of February, a wrong JSON type).
    """
    if text[:1] == "{":
        return _journal_line(text, programs)
    if text[:1] == "<" and (m := _RFC5424.fullmatch(text)) is not None:
        return _rfc5424_line(m, options, received, programs)
    if (m := _BSD_OR_ISO.fullmatch(text)) is not None:
        return _bsd_or_iso_line(m, options, received, programs)
    if _LAST_REPEATED.fullmatch(text) is not None:
        return None
    raise ParseError(
        "unrecognized_line", "not a syslog line (RFC 3164, RFC 5424 or ISO timestamp) nor a journald JSON object"
    )


def program_of(tag: str) -> str:
    """The program name of a syslog tag: some daemons log their full path (/usr/sbin/sshd)."""
    return tag.rsplit("/", 1)[-1] if "/" in tag else tag


def _bsd_or_iso_line(
    m: re.Match[str], options: ParseOptions, received: datetime, programs: frozenset[str]
) -> LogLine | None:
    program = program_of(m["prog"] or m["bprog"])
    if program not in programs:
        return None
    if m["iso"] is not None:
        when = iso_time(m["iso"], options.default_tz)
    else:
        when = bsd_time(MONTHS[m["mon"]], int(m["day"]), m["hms"], options, received)
        if m["frac"] is not None:  # e.g. syslog-ng with frac-digits set
            when = when.replace(microsecond=int(m["frac"][:6].ljust(6, "0")))
    pid = m["pid"]
    return LogLine(when, m["host"], program, int(pid) if pid else None, m["msg"] or "")


def _rfc5424_line(
    m: re.Match[str], options: ParseOptions, received: datetime, programs: frozenset[str]
) -> LogLine | None:
    program = program_of(m["prog"])
    if program not in programs:
        return None
    # NILVALUE time: the sender did not know it; the moment secmon read the line is the best bound.
    when = received if m["ts"] == "-" else iso_time(m["ts"], options.default_tz)
    procid = m["procid"]
    pid = int(procid) if procid.isascii() and procid.isdigit() and len(procid) <= 10 else None
    host = None if m["host"] == "-" else m["host"]
    return LogLine(when, host, program, pid, (m["msg"] or "").removeprefix("\ufeff"))


def bsd_time(month: int, day: int, hms: str, options: ParseOptions, received: datetime) -> datetime:
    """A year-less RFC 3164 time in UTC.

    With options.default_year that year is used as is. Otherwise the year the line was read in,
    unless that puts the line more than a day in the future: then it is from the year before
    (a December line read in January; a Feb 29 line read the year after a leap year).
    """
    if options.default_year is not None:
        return _local_time(options.default_year, month, day, hms, options.default_tz)
    year = received.year
    try:
        when = _local_time(year, month, day, hms, options.default_tz)
    except ParseError:
        if (month, day) != (2, 29):
            raise
        return _local_time(year - 1, month, day, hms, options.default_tz)
    if when - received > FUTURE_SLACK:
        return _local_time(year - 1, month, day, hms, options.default_tz)
    return when


@lru_cache(maxsize=4096)  # one busy second repeats across hundreds of lines
def _local_time(year: int, month: int, day: int, hms: str, tz: tzinfo) -> datetime:
    hour, minute, second = int(hms[0:2]), int(hms[3:5]), int(hms[6:8])
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ParseError("invalid_field", f"impossible timestamp {year}-{month:02d}-{day:02d} {hms}: {exc}") from None


def iso_time(stamp: str, default_tz: tzinfo) -> datetime:
    """An ISO 8601 time in UTC; fractions beyond microseconds are cut, no offset means default_tz."""
    m = _ISO.fullmatch(stamp)
    if m is None:
        raise ParseError("invalid_field", f"timestamp {stamp[:64]!r} is not ISO 8601")
    base, fraction, offset = m.groups()
    text = base + ("." + fraction[:6].ljust(6, "0") if fraction else "") + ("+00:00" if offset == "Z" else offset or "")
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=default_tz)
        return when.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ParseError("invalid_field", f"impossible timestamp {stamp[:64]!r}: {exc}") from None


Byte = Annotated[StrictInt, Field(ge=0, le=255)]
# journald writes a field as text, as byte values when it is not UTF-8, and as a list of those
# when the entry holds the field more than once.
JournalValue = StrictStr | list[Byte] | list[StrictStr | list[Byte]]


class JournalEntry(CutAtBounds):
    """The fields secmon reads from one `journalctl -o json` entry (others are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    realtime: StrictStr | StrictInt = Field(alias="__REALTIME_TIMESTAMP", description="Microseconds since the epoch.")
    message: JournalValue | None = Field(None, alias="MESSAGE", description="The program's message.")
    identifier: JournalValue | None = Field(None, alias="SYSLOG_IDENTIFIER", description="Syslog tag.")
    comm: JournalValue | None = Field(None, alias="_COMM", description="Executable name (trusted).")
    hostname: JournalValue | None = Field(None, alias="_HOSTNAME", description="Host the entry was logged on.")
    pid: JournalValue | None = Field(None, alias="_PID", description="Process id (trusted).")
    syslog_pid: JournalValue | None = Field(None, alias="SYSLOG_PID", description="Process id the sender claims.")


def _journal_line(text: str, programs: frozenset[str]) -> LogLine | None:
    try:
        entry = JournalEntry.model_validate(load_json_object(text))
    except ValidationError as exc:
        raise ParseError("invalid_field", _journal_error(exc)) from None
    program = journal_text(entry.identifier if entry.identifier is not None else entry.comm)
    if program is None or program_of(program) not in programs or entry.message is None:
        return None
    pid = journal_text(entry.pid if entry.pid is not None else entry.syslog_pid)
    return LogLine(
        timestamp=journal_time(entry.realtime),
        host=journal_text(entry.hostname),
        program=program_of(program),
        pid=int(pid) if pid and pid.isascii() and pid.isdigit() and len(pid) <= 10 else None,
        message=journal_text(entry.message) or "",
    )


def _journal_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "entry"
    if first["type"] == "missing":
        return f"journald entry without {field}"
    if field == "__REALTIME_TIMESTAMP":
        return f"journald {field} is not a string of microseconds"
    return f"journald {field} is neither text nor a list of byte values (0-255)"


def journal_text(value: str | list | None) -> str | None:
    """A journald field as text: byte values are decoded with undecodable bytes shown as \\xNN."""
    if value is None or isinstance(value, str):
        return value
    if not value or isinstance(value[0], int):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    return journal_text(value[0])  # a repeated field: its first value


def journal_time(realtime: str | int) -> datetime:
    """__REALTIME_TIMESTAMP (microseconds since the epoch, as journald writes it: a string) in UTC."""
    if isinstance(realtime, str):
        if not (realtime.isascii() and realtime.isdigit() and len(realtime) <= 18):
            raise ParseError("invalid_field", f"__REALTIME_TIMESTAMP {realtime[:32]!r} is not a microsecond count")
        realtime = int(realtime)
    if not 0 <= realtime <= MAX_JOURNAL_MICROS:
        raise ParseError("invalid_field", f"__REALTIME_TIMESTAMP {realtime} is out of range")
    return EPOCH + timedelta(microseconds=realtime)
