"""Threat intel: IP/CIDR indicator lists matched against `source.ip` / `destination.ip`.

Each file in `enrich.threat_intel` is one list, named by its file stem (the feed name):

- plain text: one address or CIDR per line; `#` starts a comment, and a comment after an
  indicator is its description (`185.220.101.0/24  # tor exits`);
- CSV (`.csv`): a header with an `ip`, `cidr` or `indicator` column, optional `description` and
  `feed` columns (a non-empty `feed` names that row's list instead of the stem).

Matches land in ECS `threat.enrichments[]` (the most specific block of each list) and the matched
address in `related.ip`. Files are re-read when their mtime/size/inode changes, checked at most
every `check_seconds` (never per event); replace a list atomically (write, then rename) so a
half-written file is never read. The enricher's version is a digest of the loaded files.
`new_indicators` gives what a reload added: the input a retro-hunt over recent events needs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pipeline.enrichers.base import Enricher
from pipeline.enrichers.prefixes import Block, PrefixTable, address_key, parse_block
from schemas.event import Event, Threat, ThreatEnrichment, ThreatFeed, ThreatIndicator, ThreatMatched

if TYPE_CHECKING:
    from pipeline.settings import EnrichSettings

log = logging.getLogger(__name__)
RELOAD_CHECK_SECONDS = 30.0
IP_COLUMNS = ("ip", "cidr", "indicator")
_SHOWN_PROBLEMS = 5


class FeedError(ValueError):
    """A list that cannot be used at all (missing, unreadable, CSV without an address column)."""


class Indicator(NamedTuple):
    """One listed address or block (a tuple: a million of them take ~150 MB and load fast)."""

    feed: str
    version: int
    first: int
    prefixlen: int
    description: str | None = None

    @classmethod
    def of(cls, feed: str, text: str, description: str | None = None) -> Indicator:
        """An indicator from its text (address or CIDR); ValueError says what is wrong with it."""
        version, first, prefixlen = parse_block(text)
        return cls(feed, version, first, prefixlen, description or None)

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


@dataclass(frozen=True)
class FeedFile:
    """One list file as read: its indicators, line problems (file:line: why), digest and stat signature."""

    path: Path
    indicators: tuple[Indicator, ...]
    problems: tuple[str, ...]
    digest: str
    signature: tuple[int, int, int]


def _signature(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def read_feed(path: Path) -> FeedFile:
    """Read and parse one list file; raises FeedError when the file as a whole is unusable."""
    try:
        signature = _signature(path)
        with path.open("rb") as raw:
            digest = hashlib.file_digest(raw, "sha256").hexdigest()
            raw.seek(0)
            # line by line: a million-line list never sits in memory as one string
            lines = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
            parse = parse_csv if path.suffix.lower() == ".csv" else parse_text
            indicators, problems = parse(lines, path)
    except csv.Error as exc:
        raise FeedError(f"{path}: not a readable CSV list ({exc}); fix the file or give it a .txt name") from exc
    except OSError as exc:
        raise FeedError(f"threat-intel list {path} cannot be read ({exc.strerror or exc}); "
                        "fix the path in enrich.threat_intel or the file's permissions") from exc
    return FeedFile(path, tuple(indicators), tuple(problems), digest, signature)


def parse_text(lines: Iterable[str], path: Path) -> tuple[list[Indicator], list[str]]:
    """Indicators of a plain-text list and the problems of the lines that are not indicators."""
    indicators, problems, feed = [], [], path.stem
    for number, line in enumerate(lines, 1):
        value, _, comment = line.partition("#")
        tokens = value.split(None, 1)
        if not tokens:
            continue
        description = comment.strip() or (tokens[1].strip() if len(tokens) > 1 else None)
        try:
            indicators.append(Indicator.of(feed, tokens[0], description))
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
    return indicators, problems


def parse_csv(lines: Iterable[str], path: Path) -> tuple[list[Indicator], list[str]]:
    """Indicators of a CSV list (header names the address column) and the problems of bad rows."""
    rows = csv.reader(lines)
    header = [name.strip().lower() for name in next(rows, [])]
    column = next((header.index(name) for name in IP_COLUMNS if name in header), None)
    if column is None:
        raise FeedError(f"{path}:1: CSV header {header} has no {'/'.join(IP_COLUMNS)} column; "
                        "name the column that holds the addresses `ip`")
    desc = header.index("description") if "description" in header else None
    feed = header.index("feed") if "feed" in header else None
    indicators, problems = [], []
    for row in rows:
        if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            indicators.append(Indicator.of(_cell(row, feed) or path.stem, row[column], _cell(row, desc)))
        except (ValueError, IndexError) as exc:
            problems.append(f"{path}:{rows.line_num}: {exc if isinstance(exc, ValueError) else 'row has too few columns'}")
    return indicators, problems


def _cell(row: list[str], index: int | None) -> str | None:
    return row[index].strip() if index is not None and index < len(row) else None


def new_indicators(previous: Iterable[Indicator], current: Iterable[Indicator]) -> set[Indicator]:
    """Indicators of `current` whose feed and block `previous` lacks: what a retro-hunt searches for."""
    known = {ind.key for ind in previous}
    return {ind for ind in current if ind.key not in known}


class IndicatorIndex:
    """An immutable snapshot of the loaded lists: prefix table, version, cached matcher."""

    def __init__(self, feeds: dict[Path, FeedFile], cache_size: int):
        self.feeds = feeds
        self.table: PrefixTable[Indicator] = PrefixTable(
            (ind.block, ind.feed, ind) for feed in feeds.values() for ind in feed.indicators)
        digest = hashlib.sha256()
        for path in sorted(feeds):
            digest.update(f"{path.name}\0{feeds[path].digest}\0".encode())
        self.version = digest.hexdigest()[:16]
        self.matches = lru_cache(maxsize=cache_size)(self.matches_uncached)

    def indicators(self) -> list[Indicator]:
        """Every loaded indicator."""
        return [ind for feed in self.feeds.values() for ind in feed.indicators]

    def matches_uncached(self, ip: str) -> tuple[str, tuple[Indicator, ...]]:
        """(ECS indicator type, the most specific match of each list) for an address; malformed -> none."""
        key = address_key(ip)
        if key is None:
            return "", ()
        return ("ipv4-addr" if key[0] == 4 else "ipv6-addr"), self.table.lookup_key(*key)


class ThreatIntel:
    """The configured lists, reloaded when a file changes; `apply` enriches one event."""

    def __init__(self, paths: Iterable[Path], cache_size: int = 65536, check_seconds: float = RELOAD_CHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 on_new: Callable[[set[Indicator]], None] | None = None):
        self.paths = [Path(p) for p in paths]
        self.cache_size, self.check_seconds, self.clock, self.on_new = cache_size, check_seconds, clock, on_new
        self.last_added: set[Indicator] = set()
        self.index = IndicatorIndex(self._load_all(), cache_size)
        self._next_check = clock() + check_seconds
        _report(self.index, "loaded")

    @property
    def version(self) -> str:
        """Digest of the lists in use (provenance)."""
        return self.index.version

    def _load_all(self) -> dict[Path, FeedFile]:
        """Read every list at start; all unusable files are reported together, then it fails."""
        feeds, errors = {}, []
        for path in self.paths:
            try:
                feeds[path] = read_feed(path)
            except FeedError as exc:
                errors.append(str(exc))
        if errors:
            raise FeedError("threat-intel lists unusable:\n  " + "\n  ".join(errors))
        return feeds

    def maybe_reload(self) -> bool:
        """Reload changed files if `check_seconds` have passed since the last check."""
        now = self.clock()
        if now < self._next_check:
            return False
        self._next_check = now + self.check_seconds
        return self.reload()

    def reload(self) -> bool:
        """Re-read the files whose stat changed; a file that became unusable keeps its last good version."""
        feeds, changed = dict(self.index.feeds), False
        for path in self.paths:
            try:
                if _signature(path) == feeds[path].signature:
                    continue
                feeds[path] = read_feed(path)
                changed = True
            except (OSError, FeedError) as exc:
                log.warning("threat-intel list %s not reloaded, keeping the last good version: %s", path, exc)
        if not changed:
            return False
        previous, self.index = self.index, IndicatorIndex(feeds, self.cache_size)
        self.last_added = new_indicators(previous.indicators(), self.index.indicators())
        _report(self.index, f"reloaded (+{len(self.last_added)} new)")
        if self.on_new is not None and self.last_added:
            self.on_new(self.last_added)
        return True

    def apply(self, event: Event) -> None:
        """Record every list match of source.ip / destination.ip in `threat.enrichments` and `related.ip`."""
        self.maybe_reload()
        found = []
        for field_name, side in (("source.ip", event.source), ("destination.ip", event.destination)):
            if side is None or side.ip is None:
                continue
            kind, indicators = self.index.matches(side.ip)
            found += [ThreatEnrichment(
                indicator=ThreatIndicator(ip=side.ip, type=kind, name=ind.name, description=ind.description),
                feed=ThreatFeed(name=ind.feed), matched=ThreatMatched(field=field_name)) for ind in indicators]
            if indicators and side.ip not in event.related.ip:
                event.related.ip.append(side.ip)
        if found:
            event.threat = Threat(enrichments=(event.threat.enrichments if event.threat else []) + found)


def _report(index: IndicatorIndex, what: str) -> None:
    """Log the lists in use and the first line problems with their locations."""
    problems = [p for feed in index.feeds.values() for p in feed.problems]
    log.info("threat intel %s: %d indicators in %d lists, version %s, %d lines skipped",
             what, len(index.table), len(index.feeds), index.version, len(problems))
    for problem in problems[:_SHOWN_PROBLEMS]:
        log.warning("threat-intel line skipped: %s", problem)


class ThreatIntelEnricher(Enricher):
    """An Enricher whose stamp follows the lists in use: `version` is the one loaded at start."""

    def __init__(self, intel: ThreatIntel):
        super().__init__(name="threat_intel", version=intel.version, apply=intel.apply)
        object.__setattr__(self, "intel", intel)  # Enricher is frozen; set once, here

    @property
    def stamp(self) -> str:
        """`threat_intel@<digest of the lists in use now>`."""
        return f"{self.name}@{self.intel.version}"


def build(settings: EnrichSettings) -> Enricher | None:
    """The threat-intel enricher over `enrich.threat_intel`, or None when no list is configured."""
    if not settings.threat_intel:
        return None
    return ThreatIntelEnricher(ThreatIntel(settings.threat_intel, cache_size=settings.cache_size))
