"""Threat-intel list files: read and parse one list (plain text or CSV) into indicator rows.

The format of the lists and how they are used: `pipeline.enrichers.threat_intel`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipeline.enrichers.prefixes import Block, parse_block, release
from schemas.errors import SecmonError

IP_COLUMNS = ("ip", "cidr", "indicator")
# An indicator's fields (feed, version, first, prefixlen, description) as a plain tuple: how the lists
# are held. The collector untracks such tuples, which a NamedTuple never is (see the module docstring).
Row = tuple[str, int, int, int, "str | None"]


class FeedError(SecmonError, ValueError):
    """A list that cannot be used at all (missing, unreadable, CSV without an address column)."""


class Indicator(NamedTuple):
    """One listed address or block: the named view of a `Row` (a million rows take ~150 MB)."""

    feed: str
    version: int
    first: int
    prefixlen: int
    description: str | None = None

    @classmethod
    def of(cls, feed: str, text: str, description: str | None = None) -> Indicator:
        """An indicator from its text (address or CIDR); ValueError says what is wrong with it."""
        return cls._make(_row(feed, text, description))

    @property
    def key(self) -> tuple[str, int, int, int]:
        """What identifies it across reloads: feed and block (not the description)."""
        return self[:4]

    @property
    def block(self) -> Block:
        """The listed block."""
        return Block(self.version, self.first, self.prefixlen)

    @property
    def name(self) -> str:
        """The indicator in canonical text (an address, or a CIDR for a wider block)."""
        return str(self.block)


def _row(feed: str, text: str, description: str | None) -> Row:
    """The row of an indicator given as text (address or CIDR); ValueError says what is wrong with it."""
    version, first, prefixlen = parse_block(text)
    return feed, version, first, prefixlen, description or None


@dataclass(frozen=True)
class FeedFile:
    """One list file as read: its indicators as rows, line problems (file:line: why), digest and stat signature."""

    path: Path
    rows: list[Row]  # lists, not tuples, so that a retired one can be emptied a slice at a time
    problems: list[str]
    digest: str
    signature: tuple[int, int, int]

    @property
    def indicators(self) -> list[Indicator]:
        """The list's indicators."""
        return [Indicator._make(row) for row in self.rows]


def signature(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def read_feed(path: Path) -> FeedFile:
    """Read and parse one list file; raises FeedError when the file as a whole is unusable."""
    try:
        stat = signature(path)
        with path.open("rb") as raw:
            digest = hashlib.file_digest(raw, "sha256").hexdigest()
            raw.seek(0)
            # line by line: a million-line list never sits in memory as one string
            lines = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
            parse = parse_csv if path.suffix.lower() == ".csv" else parse_text
            rows, problems = parse(lines, path)
    except csv.Error as exc:
        raise FeedError(f"{path}: not a readable CSV list ({exc}); fix the file or give it a .txt name") from exc
    except OSError as exc:
        raise FeedError(
            f"threat-intel list {path} cannot be read ({exc.strerror or exc}); "
            "fix the path in enrich.threat_intel or the file's permissions"
        ) from exc
    return FeedFile(path, rows, problems, digest, stat)


def parse_text(lines: Iterable[str], path: Path) -> tuple[list[Row], list[str]]:
    """Indicator rows of a plain-text list and the problems of the lines that are not indicators."""
    rows, problems, feed = [], [], path.stem
    for number, line in enumerate(lines, 1):
        value, _, comment = line.partition("#")
        tokens = value.split(None, 1)
        if not tokens:
            continue
        description = comment.strip() or (tokens[1].strip() if len(tokens) > 1 else None)
        try:
            rows.append(_row(feed, tokens[0], description))
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
    return rows, problems


def parse_csv(lines: Iterable[str], path: Path) -> tuple[list[Row], list[str]]:
    """Indicator rows of a CSV list (header names the address column) and the problems of bad rows."""
    rows = csv.reader(lines)
    header = [name.strip().lower() for name in next(rows, [])]
    column = next((header.index(name) for name in IP_COLUMNS if name in header), None)
    if column is None:
        raise FeedError(
            f"{path}:1: CSV header {header} has no {'/'.join(IP_COLUMNS)} column; "
            "name the column that holds the addresses `ip`"
        )
    desc = header.index("description") if "description" in header else None
    feed = header.index("feed") if "feed" in header else None
    found, problems = [], []
    for row in rows:
        if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            found.append(_row(_cell(row, feed) or path.stem, row[column], _cell(row, desc)))
        except (ValueError, IndexError) as exc:
            problems.append(
                f"{path}:{rows.line_num}: {exc if isinstance(exc, ValueError) else 'row has too few columns'}"
            )
    return found, problems


def _cell(row: list[str], index: int | None) -> str | None:
    return row[index].strip() if index is not None and index < len(row) else None


def new_indicators(previous: Iterable[Row], current: Iterable[Row]) -> set[Indicator]:
    """Indicators of `current` whose feed and block `previous` lacks: what a retro-hunt searches for.

    Both are rows or Indicators (the same fields)."""
    known = {row[:4] for row in previous}
    added = {Indicator._make(row) for row in current if row[:4] not in known}
    release(known)  # up to a million keys that die here
    return added
