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

Reloads stay off the event path: the check, the parse and the prefix-table build run in a background
thread, one at a time, and `apply` only asks "is a new table ready?" before matching. Until it is,
events match the lists in use; then the new table is swapped in whole, and only then do the version,
`last_added` and `on_new` change. A file that became unusable keeps its last good version (logged).
`new_indicators` gives what a reload added, once per swap: the input a retro-hunt over recent events
needs. `background=False` builds in the calling thread (replays, tests); `reload()` and `wait()` block
until the new lists are in use.

A million-line list takes 15-20 s of CPU to build; the event path keeps running beside it (between GIL
switches, every 5 ms) because no step holds the GIL for long: indicators are plain tuples (rows), which
the garbage collector stops tracking, so they add no full-collection pauses; the table is sorted in
slices (pipeline.enrichers.prefixes); a retired index is emptied a slice at a time in the background.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from functools import lru_cache, partial
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pipeline import metrics
from pipeline.enrichers.background import log_failure, run_here, run_in_thread
from pipeline.enrichers.base import Enricher
from pipeline.enrichers.prefixes import Block, PrefixTable, address_key, release
from pipeline.enrichers.threat_feeds import (
    FeedError,
    FeedFile,
    Indicator,
    Row,
    new_indicators,
    read_feed,
    signature,
)
from schemas.event import Event, Threat, ThreatEnrichment, ThreatFeed, ThreatIndicator, ThreatMatched

if TYPE_CHECKING:
    from pipeline.settings import EnrichSettings

log = logging.getLogger(__name__)
RELOAD_CHECK_SECONDS = 30.0
_SHOWN_PROBLEMS = 5


class IndicatorIndex:
    """A snapshot of the loaded lists: prefix table, version, cached matcher (unchanged until `retire`)."""

    def __init__(self, feeds: dict[Path, FeedFile], cache_size: int):
        self.feeds = feeds
        self.table: PrefixTable[Row] = PrefixTable(
            (Block(*row[1:4]), row[0], row) for feed in feeds.values() for row in feed.rows
        )
        digest = hashlib.sha256()
        for path in sorted(feeds):
            digest.update(f"{path.name}\0{feeds[path].digest}\0".encode())
        self.version = digest.hexdigest()[:16]
        self.matches = lru_cache(maxsize=cache_size)(self.matches_uncached)

    def rows(self) -> Iterator[Row]:
        """Every loaded indicator, as a row."""
        return chain.from_iterable(feed.rows for feed in self.feeds.values())

    def indicators(self) -> list[Indicator]:
        """Every loaded indicator."""
        return [Indicator._make(row) for row in self.rows()]

    def matches_uncached(self, ip: str) -> tuple[str, tuple[Indicator, ...]]:
        """(ECS indicator type, the most specific match of each list) for an address; malformed -> none."""
        key = address_key(ip)
        if key is None:
            return "", ()
        found = self.table.lookup_key(*key)
        return ("ipv4-addr" if key[0] == 4 else "ipv6-addr"), tuple(map(Indicator._make, found)) if found else ()

    def retire(self, successor: IndicatorIndex) -> None:
        """Empty this index, no longer in use, a slice at a time; the files `successor` shares are kept."""
        self.matches.cache_clear()
        self.table.clear()
        for path, feed in self.feeds.items():
            if successor.feeds.get(path) is not feed:
                release(feed.rows)
                release(feed.problems)


class Reload(NamedTuple):
    """A reload built and ready to be swapped in: the new index and the indicators it added."""

    built: IndicatorIndex  # not `index`: a NamedTuple field must not shadow tuple.index
    added: set[Indicator]


def rebuild(previous: IndicatorIndex, paths: Iterable[Path], cache_size: int) -> Reload | None:
    """`previous` with the files whose stat changed re-read, or None when none did; runs in any thread.

    A file that became unusable keeps its last good version (logged)."""
    feeds, changed = dict(previous.feeds), False
    for path in paths:
        try:
            if signature(path) == feeds[path].signature:
                continue
            feeds[path] = read_feed(path)
            changed = True
        except (OSError, FeedError) as exc:
            log.warning("threat-intel list %s not reloaded, keeping the last good version: %s", path, exc)
    if not changed:
        return None
    index = IndicatorIndex(feeds, cache_size)
    return Reload(index, new_indicators(previous.rows(), index.rows()))


class ThreatIntel:
    """The configured lists, reloaded off the event path when a file changes; `apply` enriches one event.

    Not thread-safe: `apply`, `maybe_reload`, `reload` and `wait` are called from one thread (the event
    loop's); only the builds run beside it."""

    def __init__(
        self,
        paths: Iterable[Path],
        cache_size: int = 65536,
        check_seconds: float = RELOAD_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_new: Callable[[set[Indicator]], None] | None = None,
        background: bool = True,
    ):
        self.paths = [Path(p) for p in paths]
        self.cache_size, self.check_seconds, self.clock, self.on_new = cache_size, check_seconds, clock, on_new
        self.background = background
        self.last_added: set[Indicator] = set()
        self.index = IndicatorIndex(self._load_all(), cache_size)
        self._job: futures.Future[Reload | None] | None = None  # the reload being built, or built and not swapped in
        self._next_check = clock() + check_seconds
        _report(self.index, "loaded")

    @property
    def version(self) -> str:
        """Digest of the lists in use (provenance)."""
        return self.index.version

    @property
    def reloading(self) -> bool:
        """A reload is being built (or is built and waits for the next call to swap it in)."""
        return self._job is not None

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
        """Swap in a built reload; start one if `check_seconds` have passed. True if the lists in use changed.

        Never waits, unless background=False (then the reload is built here)."""
        swapped = self._swap_ready()
        now = self.clock()
        if now < self._next_check:
            return swapped
        self._next_check = now + self.check_seconds
        self._start()
        return self._swap_ready() or swapped

    def reload(self, block: bool = True) -> bool:
        """Check the files now; True when this call swapped in changed lists.

        `block`: return once the lists in use are those on disk; else only start the check (unless one runs)."""
        if not block:
            self._start()
            return self._swap_ready()
        swapped = self.wait()  # a reload already running may have read the files before their last change
        self._start()
        return self.wait() or swapped

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (up to `timeout` s) for the reload in progress, if any, and swap it in; True if the lists changed."""
        if self._job is not None:
            futures.wait([self._job], timeout)
        return self._swap_ready()

    def _start(self) -> None:
        """Start a reload over the lists in use, unless one is already under way (one at a time)."""
        if self._job is None:
            task = partial(rebuild, self.index, self.paths, self.cache_size)
            self._job = run_in_thread(task, "threat-intel-reload") if self.background else run_here(task)

    def _swap_ready(self) -> bool:
        """Swap in the reload if it is built (O(1) when it is not); a failed one keeps the lists in use."""
        job = self._job
        if job is None or not job.done():
            return False
        self._job = None
        try:
            ready = job.result()
        except Exception:  # the lists in use stay: a broken file must not stop enrichment
            metrics.ERRORS.labels(where="threat_intel_reload").inc()
            log.exception("threat-intel reload failed, keeping the lists in use (version %s)", self.version)
            return False
        if ready is None:
            return False
        previous, self.index, self.last_added = self.index, ready.built, ready.added
        if self.background:  # freeing a million rows here would hold the GIL, and the event path, for ~0.2 s
            retiring = run_in_thread(partial(previous.retire, self.index), "threat-intel-retire")
            retiring.add_done_callback(log_failure("emptying the retired threat-intel index"))
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
            found += [
                ThreatEnrichment(
                    indicator=ThreatIndicator(ip=side.ip, type=kind, name=ind.name, description=ind.description),
                    feed=ThreatFeed(name=ind.feed),
                    matched=ThreatMatched(field=field_name),
                )
                for ind in indicators
            ]
            if indicators and side.ip not in event.related.ip:
                event.related.ip.append(side.ip)
        if found:
            event.threat = Threat(enrichments=(event.threat.enrichments if event.threat else []) + found)


def _report(index: IndicatorIndex, what: str) -> None:
    """Log the lists in use and the first line problems with their locations (O(lists): it runs on the event path)."""
    skipped = sum(len(feed.problems) for feed in index.feeds.values())
    log.info(
        "threat intel %s: %d indicators in %d lists, version %s, %d lines skipped",
        what,
        len(index.table),
        len(index.feeds),
        index.version,
        skipped,
    )
    for problem in islice(chain.from_iterable(feed.problems for feed in index.feeds.values()), _SHOWN_PROBLEMS):
        log.warning("threat-intel line skipped: %s", problem)


class ThreatIntelEnricher(Enricher):
    """An Enricher whose stamp follows the lists in use: `version` is the one loaded at start."""

    intel: ThreatIntel

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
