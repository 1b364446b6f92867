"""The Faust-free detection engine: routes events to detectors, keeps their state, dedups alerts.

Both runtimes use it the same way. The embedded runner calls `process(event)`. The Faust
pipeline first calls `routes(event)` and repartitions the event by `<detector>|<entity>` so each
entity's state lives in one partition, then calls `process_keyed(...)` on the worker owning it.

Timers and expiry cost O(due), not O(state). Two deadline indexes (detectors/timers.py) sit beside
the store: timed entities by their detector's next `deadline`, and every entity by when it may be
dropped. `due(now)` takes out what came due; `tick_keyed` ticks each pair (embedded: `tick`;
worker: one tick message per pair), drops it when idle, and puts it back with its new times. An
entity expires, by event time (the latest event seen, never the wall clock), once idle for its
detector's `ttl` (how long its state can still change a result, e.g. its window) or, without
state, for the alert dedup period, plus lateness in both cases: within those bounds a forgotten
entity and a remembered one give the same alerts. The indexes hold nothing the records do not
(deadlines follow from the state, expiry from the record's watermark and its alerts' `last`): they are rebuilt from
the store at the first tick and after `forget_index()` (the worker calls it when its table was
recovered from the changelog after a restart or a rebalance).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from detectors import memo
from detectors.alerts import merge
from detectors.base import DUE, Detector, Finding
from detectors.forgetting import workspace_entries
from detectors.records import EntityRecord
from detectors.routes import Route, route_of
from detectors.sources import SourceClocks
from detectors.state import StateStore, state_key
from detectors.timers import DeadlineIndex
from schemas.alert import Alert
from schemas.event import Event

log = logging.getLogger(__name__)
T = TypeVar("T")


def _log_error(detector_id: str, exc: Exception, event: Event | None) -> None:
    log.error("detector %s failed on %s: %r", detector_id, event.event.id if event else "a timer tick", exc)


@dataclass
class EngineHooks:
    """Callbacks the runtime injects to count and report (metrics live outside the core)."""

    on_error: Callable[[str, Exception, Event | None], None] = _log_error
    on_late: Callable[[str], None] = lambda _detector_id: None
    on_alert: Callable[[Alert, bool], None] = lambda _alert, _is_new: None


@dataclass
class Engine:
    """Runs the configured detectors over events with state in a StateStore."""

    detectors: Sequence[tuple[Detector, BaseModel]]
    store: StateStore
    lateness: timedelta = timedelta(minutes=5)
    strict: bool = False
    hooks: EngineHooks = field(default_factory=EngineHooks)
    wall: Callable[[], float] = time.monotonic  # how long a source has been silent (see _clock)

    def __post_init__(self) -> None:
        self._by_id = {det.meta.id: (det, params) for det, params in self.detectors}
        self._late = late = self.lateness.total_seconds()
        # how long after its last event or alert an entity's record is kept: with state, the
        # detector's ttl (None: kept); without, just its alert (for dedup); both plus lateness
        self._keep: dict[str, tuple[float | None, float]] = {}
        for det, params in self.detectors:
            dedup = det.meta.dedup_period.total_seconds()
            ttl = det.ttl(params) if det.ttl is not None else None
            self._keep[det.meta.id] = (None if ttl is None else max(ttl, dedup) + late, dedup + late)
        # what routing and stepping need of each detector, looked up once: by id and per dataset
        routes = [route_of(det, params, self._keep[det.meta.id]) for det, params in self.detectors]
        self._routes = {route.id: route for route in routes}
        self._by_dataset: dict[str, list[Route]] = {}
        for route in routes:
            for dataset in route.det.meta.datasets:
                self._by_dataset.setdefault(dataset, []).append(route)
        self._timed = frozenset(det.meta.id for det, _ in self.detectors if det.tick is not None)
        self._seeds = [
            (det.meta.id, key)
            for det, params in self.detectors
            if det.tick is not None and det.seeds is not None
            for key in det.seeds(params)
        ]
        self._ticks = DeadlineIndex()  # timed entities by their next deadline (compared with the tick time)
        self._expiry = DeadlineIndex()  # every entity by when it may be dropped (compared with event time)
        self._indexed = False  # the indexes are rebuilt from the store at the first tick (see reindex)
        self._high: float | None = None  # latest event time seen: the clock idle entities expire by
        self._sources = SourceClocks(late, self.wall)  # idle expiry waits for the slowest partition

    def routes(self, event: Event) -> list[tuple[str, str]]:
        """(detector id, entity key) for every detector that wants this event."""
        found = []
        for route in self._by_dataset.get(event.event.dataset, ()):  # detectors reading its dataset
            key = self._key(route, event)
            if key is not None:
                found.append((route.id, key))
        return found

    def process(self, event: Event) -> list[Alert]:
        """Run every detector on one event; the alerts created or updated by it."""
        alerts: list[Alert] = []
        ts = event.timestamp.timestamp()
        memo.scope(event)  # what several detectors derive from the event (its Login) is derived once
        try:
            for route in self._by_dataset.get(event.event.dataset, ()):
                try:  # as _key, inline: it runs for every detector reading the event's dataset
                    key = route.key(event, route.params) if route.key_with_params else route.key(event)
                except Exception as exc:  # isolation: one broken detector must not stop the others
                    if self.strict:
                        raise
                    self.hooks.on_error(route.id, exc, event)
                    continue
                if key is not None:
                    found = self._step(route, key, event, ts)
                    if found:
                        alerts += found
        finally:
            memo.scope(None)
        return alerts

    def process_keyed(self, detector_id: str, entity_key: str, event: Event, source: int | None = None) -> list[Alert]:
        """Run one detector on one event for one entity (a detector not enabled here is skipped:
        it may have been disabled between routing and detection). `source`: the partition the
        event came from, whose progress idle expiry waits for (see _clock)."""
        route = self._routes.get(detector_id)
        if route is None:
            return []
        ts = event.timestamp.timestamp()
        if source is not None:
            self._sources.saw(source, ts)
        return self._step(route, entity_key, event, ts)

    def _key(self, route: Route, event: Event) -> str | None:
        try:
            return route.key(event, route.params) if route.key_with_params else route.key(event)
        except Exception as exc:  # isolation: one broken detector must not stop the others
            if self.strict:
                raise
            self.hooks.on_error(route.id, exc, event)
            return None

    def _step(self, route: Route, entity_key: str, event: Event, ts: float) -> list[Alert]:
        """The hot path: one detector, one entity, one event (`ts`: its time as epoch seconds)."""
        skey = f"{route.id}|{entity_key}"  # state_key()
        record = self.store.get(skey)
        if record is None:
            record = EntityRecord()
        else:
            watermark = record.watermark
            if watermark is not None and ts < watermark - self._late:
                self.hooks.on_late(route.id)
                return []
        try:
            new_state, findings = route.step(record.state, event, route.params)
        except Exception as exc:  # isolation, as in _key
            if self.strict:
                raise
            self.hooks.on_error(route.id, exc, event)
            return []
        watermark = record.watermark
        if watermark is None or ts > watermark:
            record.watermark = watermark = ts
        record.state = new_state
        if findings:
            det = route.det
            alerts = [a for f in findings if (a := self._merge(det, entity_key, record, f, event)) is not None]
        else:
            alerts = []
        self.store.put(skey, record)
        if self._high is None or ts > self._high:
            self._high = ts
        if self._indexed:
            if route.timed:
                self._ticks.schedule(skey, self._tick_at(route.det, route.params, record))
            # _expire_at, inline: the latest of the watermark and the alerts' last findings, plus the keep
            keep = route.keep_alert_only if new_state is None else route.keep_with_state
            if keep is None:
                self._expiry.schedule(skey, None)
            else:
                last = watermark
                for slot in record.alerts.values():
                    if slot.last > last:
                        last = slot.last
                self._expiry.schedule(skey, last + keep)
        return alerts

    @property
    def timed(self) -> frozenset[str]:
        """Ids of the enabled detectors that have a timer (deadline / heartbeat detectors)."""
        return self._timed

    def tick(self, now: datetime) -> list[Alert]:
        """Advance the clock: tick the timed entities that are due and drop the idle ones."""
        alerts: list[Alert] = []
        for detector_id, entity_key in self.due(now):
            alerts += self.tick_keyed(detector_id, entity_key, now)
        return alerts

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(detector, entity) pairs a tick at `now` must visit, sorted: timed entities whose deadline
        came, entities idle past their time to live, and configured seeds without state yet.

        O(due): the pairs come from two deadline indexes kept beside the store, not from a scan of
        it. They are taken out of the indexes; `tick_keyed` puts each back with its new deadline
        (the worker sends one tick message per pair, handled by the partition owning the entity).
        The first call after `reindex()` (and the first ever) rebuilds the indexes from the store."""
        if not self._indexed:
            self.reindex()
        now_ts = now.timestamp()
        found: set[str] = set()
        for skey in self._ticks.pop_due(now_ts):
            det, params, record = self._lookup(skey)
            if record is None:
                continue
            at = self._tick_at(det, params, record)
            if at is not None and at > now_ts:
                self._ticks.schedule(skey, at)
            elif at is not None:
                found.add(skey)
        clock = self._clock(now_ts)
        for skey in self._expiry.pop_due(clock):
            det, params, record = self._lookup(skey)
            if record is None:
                continue
            at = self._expire_at(det, record)
            if at is not None and at > clock:
                self._expiry.schedule(skey, at)
            elif at is not None:
                found.add(skey)
        for detector_id, entity_key in self._seeds:
            record = self.store.get(state_key(detector_id, entity_key))
            if record is None or record.state is None:  # not started yet, or forgotten: (re)start it
                found.add(state_key(detector_id, entity_key))
        return sorted(tuple(skey.split("|", 1)) for skey in found)  # type: ignore[misc]

    def reindex(self) -> None:
        """Rebuild the deadline indexes from the store: O(state), once. The worker calls it when its
        table was recovered after a restart or a rebalance (an entry's deadline and expiry follow
        from the entry itself, so nothing else needs persisting); `due` calls it the first time."""
        self._ticks.clear()
        self._expiry.clear()
        for skey in self.store.keys():
            det, params, record = self._lookup(skey)
            if record is None:
                continue
            wm = record.watermark
            if wm is not None and (self._high is None or wm > self._high):
                self._high = wm
            self._schedule(det, params, skey, record)
        self._indexed = True

    def forget_index(self) -> None:
        """Make the next tick rebuild the indexes from the store (its content changed underneath)."""
        self._indexed = False
        self._sources.clear()

    def tick_keyed(self, detector_id: str, entity_key: str, now: datetime) -> list[Alert]:
        """Advance the clock for one entity (the Faust path: one message per key): tick it when its
        detector is timed, then drop it when it has been idle past its time to live."""
        if detector_id not in self._by_id:
            return []
        det, params = self._by_id[detector_id]
        skey = state_key(detector_id, entity_key)
        stored = self.store.get(skey)
        record = stored or EntityRecord()
        alerts: list[Alert] = []
        if det.tick is not None:
            state, start, tick = record.state, det.start, det.tick
            if state is None and start is not None:
                state = self._guard(detector_id, None, lambda: start(entity_key, now, params))
            result = self._guard(detector_id, None, lambda: tick(state, now, params))
            if result is None:
                if self._indexed and stored is not None:
                    self._schedule(det, params, skey, record)  # tried again at the next tick
                return []
            record.state, findings = result
            alerts = [a for f in findings if (a := self._merge(det, entity_key, record, f, None)) is not None]
            if record.state is not None or None in record.alerts:
                self.store.put(skey, record)
        elif stored is None:
            return alerts
        expire_at = self._expire_at(det, record)
        if expire_at is not None and expire_at <= self._clock(now.timestamp()):
            self.store.delete(skey)
            self._ticks.schedule(skey, None)
            self._expiry.schedule(skey, None)
        elif self._indexed:
            self._schedule(det, params, skey, record)
        return alerts

    def forget(
        self,
        workspace: str,
        *,
        alert_ids: Collection[str] = (),
        entities: Mapping[str, Collection[str]] | None = None,
        digest: Callable[[str], str] | None = None,
        owns: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Delete every state entry of a purged workspace (detectors/forgetting.py says which are
        its); the store keys deleted. `owns(entity key)`: only matching entries it accepts are
        deleted (a worker deletes on the partition at hand)."""
        enabled = {detector_id: det for detector_id, (det, _) in self._by_id.items()}
        deleted = []
        for skey in workspace_entries(self.store, enabled, workspace, alert_ids, entities, digest):
            if owns is None or owns(skey.partition("|")[2]):  # owns (a pure-Python hash) only for the few matches
                self.store.delete(skey)
                self._ticks.schedule(skey, None)
                self._expiry.schedule(skey, None)
                deleted.append(skey)
        return deleted

    def _lookup(self, skey: str) -> tuple[Detector, BaseModel, EntityRecord | None]:
        """The detector owning a store key and the key's record (None: gone, or not enabled here)."""
        detector_id = skey.partition("|")[0]
        if detector_id not in self._by_id:
            return None, None, None  # type: ignore[return-value]
        det, params = self._by_id[detector_id]
        return det, params, self.store.get(skey)

    def _clock(self, now_ts: float) -> float:
        """The time idle entities expire by: the tick time, but never past the latest event seen (a
        worker replaying old logs ticks on wall time: its state must not expire on wall time), nor
        past the slowest source still delivering: a partition consumed ahead of another must not
        expire the other's entities before their later events, already written, are read. A source
        silent for `lateness` of wall time (caught up, or empty) no longer holds the clock back."""
        slowest = self._sources.slowest()
        high = slowest if slowest is not None else self._high
        return min(now_ts, high) if high is not None else float("-inf")

    def _schedule(self, det: Detector, params: BaseModel, skey: str, record: EntityRecord) -> None:
        if det.tick is not None:
            self._ticks.schedule(skey, self._tick_at(det, params, record))
        self._expiry.schedule(skey, self._expire_at(det, record))

    def _tick_at(self, det: Detector, params: BaseModel, record: EntityRecord) -> float | None:
        """When the entity's timer is next due (DUE: at every tick), None when it has none."""
        state = record.state
        if det.deadline is None:  # no deadline known: ticked at every tick while something is pending
            pending = state is not None or any(a.status == "open" for a in record.alerts.values())
            return DUE if pending else None
        if state is None:
            return None  # every timed detector's tick does nothing without state (seeds are restarted by due)
        deadline = det.deadline
        at: float | None = self._guard(det.meta.id, None, lambda: deadline(state, params))  # an error: ticked never
        return at

    def _expire_at(self, det: Detector, record: EntityRecord) -> float | None:
        """When the record may be dropped: its last event or alert plus the time its state (or,
        without state, its alert) is still needed, plus lateness; None when it is kept."""
        with_state, alert_only = self._keep[det.meta.id]
        keep = alert_only if record.state is None else with_state
        if keep is None:
            return None
        last = record.last_seen()
        return None if last is None else last + keep

    def _guard(self, detector_id: str, event: Event | None, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except Exception as exc:  # isolation: one broken detector must not stop the others
            if self.strict:
                raise
            self.hooks.on_error(detector_id, exc, event)
            return None

    def _merge(
        self, det: Detector, entity_key: str, record: EntityRecord, finding: Finding, event: Event | None
    ) -> Alert | None:
        """Fold the finding into the entity's alerts (see detectors/alerts.py) and tell the hooks."""
        merged = merge(det, entity_key, record, finding, event, self._late)
        if merged is not None:
            self.hooks.on_alert(*merged)
        return merged[0] if merged is not None else None
