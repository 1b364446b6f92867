"""The Faust-free detection engine: routes events to detectors, keeps their state, dedups alerts.

Both runtimes use it the same way. The embedded runner calls `process(event)`. The Faust
pipeline first calls `routes(event)` and repartitions the event by `<detector>|<entity>` so each
entity's state lives in one partition, then calls `process_keyed(...)` on the worker owning it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

from detectors.base import Detector, Finding, State
from detectors.state import StateStore, state_key
from schemas.alert import MAX_EVENT_IDS, Alert, AlertProvenance, AlertState, AnomalyDetails, Rule
from schemas.event import Event
from schemas.ids import alert_id

log = logging.getLogger(__name__)


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

    def __post_init__(self) -> None:
        self._by_id = {det.meta.id: (det, params) for det, params in self.detectors}
        self._by_dataset: dict[str, list[Detector]] = {}
        for det, _params in self.detectors:
            for dataset in det.meta.datasets:
                self._by_dataset.setdefault(dataset, []).append(det)
        self._timed = frozenset(det.meta.id for det, _ in self.detectors if det.tick is not None)

    def routes(self, event: Event) -> list[tuple[str, str]]:
        """(detector id, entity key) for every detector that wants this event."""
        found = []
        for det in self._by_dataset.get(event.event.dataset, ()):  # only detectors reading its dataset
            key = self._guard(det.meta.id, event, lambda d=det: d.entity_key(event))
            if key is not None:
                found.append((det.meta.id, key))
        return found

    def process(self, event: Event) -> list[Alert]:
        """Run every detector on one event; the alerts created or updated by it."""
        alerts: list[Alert] = []
        for det_id, key in self.routes(event):
            alerts += self.process_keyed(det_id, key, event)
        return alerts

    def process_keyed(self, detector_id: str, entity_key: str, event: Event) -> list[Alert]:
        """Run one detector on one event for one entity (a detector not enabled here is skipped:
        it may have been disabled between routing and detection)."""
        if detector_id not in self._by_id:
            return []
        det, params = self._by_id[detector_id]
        skey = state_key(detector_id, entity_key)
        record = self.store.get(skey) or {}
        ts = event.timestamp.timestamp()
        watermark = record.get("wm")
        if watermark is not None and ts < watermark - self.lateness.total_seconds():
            self.hooks.on_late(detector_id)
            return []
        result = self._guard(detector_id, event, lambda: det.step(record.get("s"), event, params))
        if result is None:
            return []
        new_state, findings = result
        record["wm"] = ts if watermark is None else max(watermark, ts)
        record["s"] = new_state
        alerts = [a for f in findings if (a := self._merge(det, entity_key, record, f, event)) is not None]
        self.store.put(skey, record)
        return alerts

    @property
    def timed(self) -> frozenset[str]:
        """Ids of the enabled detectors that have a timer (deadline / heartbeat detectors)."""
        return self._timed

    def tick(self, now: datetime) -> list[Alert]:
        """Advance the clock for every timed detector's entities held in the store."""
        alerts: list[Alert] = []
        for detector_id, entity_key in sorted(self.timer_keys()):
            alerts += self.tick_keyed(detector_id, entity_key, now)
        return alerts

    def timer_keys(self) -> set[tuple[str, str]]:
        """(detector, entity) pairs a tick must visit: stored entities and configured seeds."""
        timed = self.timed
        keys = set()
        for skey in self.store.keys():
            detector_id, _, entity_key = skey.partition("|")
            record = self.store.get(skey) if detector_id in timed else None
            # only entities with something pending: an idle key needs no tick message every minute
            if record and (record.get("s") is not None or (record.get("a") or {}).get("status") == "open"):
                keys.add((detector_id, entity_key))
        for det, params in self.detectors:
            if det.tick is not None and det.seeds is not None:
                keys |= {(det.meta.id, k) for k in det.seeds(params)}
        return keys

    def tick_keyed(self, detector_id: str, entity_key: str, now: datetime) -> list[Alert]:
        """Advance the clock for one timed detector's entity (the Faust path: one message per key)."""
        if detector_id not in self._by_id:
            return []
        det, params = self._by_id[detector_id]
        skey = state_key(detector_id, entity_key)
        record = self.store.get(skey) or {}
        if det.tick is None:
            return []
        state = record.get("s")
        if state is None and det.start is not None:
            state = self._guard(detector_id, None, lambda: det.start(entity_key, now, params))
        result = self._guard(detector_id, None, lambda: det.tick(state, now, params))
        if result is None:
            return []
        record["s"], findings = result
        alerts = [a for f in findings if (a := self._merge(det, entity_key, record, f, None)) is not None]
        if record.get("s") is not None or record.get("a") is not None:
            self.store.put(skey, record)
        return alerts

    def _guard(self, detector_id: str, event: Event | None, call):
        try:
            return call()
        except Exception as exc:  # isolation: one broken detector must not stop the others
            if self.strict:
                raise
            self.hooks.on_error(detector_id, exc, event)
            return None

    def _merge(self, det: Detector, entity_key: str, record: State, finding: Finding, event: Event | None) -> Alert | None:
        """Create the entity's alert, fold the finding into the open one (dedup), or resolve it."""
        ts = finding.timestamp.timestamp()
        slot = "a" if finding.variant is None else f"a:{finding.variant}"
        current = record.get(slot)
        if finding.resolve:
            if current is None or current.get("status") == "resolved":
                return None
            current["status"] = "resolved"
            current["last"] = max(current["last"], ts)
            alert = _build_alert(det, entity_key, current, finding)
            self.hooks.on_alert(alert, False)
            return alert
        is_new = (current is None or current.get("status") == "resolved"
                  or ts - current["first"] >= det.meta.dedup_period.total_seconds())
        if is_new:
            first_iso = finding.timestamp.astimezone(timezone.utc).isoformat()
            dedup_key = entity_key if finding.variant is None else f"{entity_key}#{finding.variant}"
            current = {"id": alert_id(det.meta.id, dedup_key, first_iso), "first": ts, "last": ts, "status": "open",
                       "count": 0, "events": [], "event_count": 0, "datasets": [], "enrichment": []}
        current["count"] += 1
        current["last"] = max(current["last"], ts)
        current["events"] = (current["events"] + [i for i in finding.event_ids if i not in current["events"]])[-MAX_EVENT_IDS:]
        current["event_count"] += len(finding.event_ids)
        current["datasets"] = sorted(set(current["datasets"]) | set(finding.datasets))
        if event is not None:
            current["enrichment"] = sorted(set(current["enrichment"]) | set(event.secmon.enrichment))
        if finding.severity is not None:
            current["sev"] = max(finding.severity, current.get("sev", finding.severity), key=SEVERITY_RANK.index)
        if finding.anomaly is not None and finding.anomaly.score >= (current.get("anomaly") or {}).get("score", -1e9):
            current["anomaly"] = finding.anomaly.model_dump(mode="json")
        record[slot] = current
        alert = _build_alert(det, entity_key, current, finding)
        self.hooks.on_alert(alert, is_new)
        return alert


SEVERITY_RANK = ("low", "medium", "high", "critical")


def _build_alert(det: Detector, entity_key: str, a: State, finding: Finding) -> Alert:
    meta = det.meta
    entity = finding.entity
    dedup_key = entity_key if finding.variant is None else f"{entity_key}#{finding.variant}"
    return Alert(
        timestamp=_utc(a["last"]),
        message=finding.message,
        rule=Rule(id=meta.id, name=meta.title, version=meta.version, maturity=finding.maturity or meta.maturity,
                  tags=list(meta.tags), ruleset=meta.ruleset, reference=list(meta.references)),
        alert=AlertState(id=a["id"], status=a.get("status", "open"), severity=a.get("sev", meta.severity),
                         dedup_key=dedup_key,
                         count=a["count"],
                         first_seen=_utc(a["first"]), last_seen=_utc(a["last"])),
        user=entity.user,
        source=entity.source,
        destination=entity.destination,
        host=entity.host,
        organization=entity.organization,
        cloud=entity.cloud,
        secmon=AlertProvenance(event_ids=a["events"], event_count=a["event_count"], datasets=a["datasets"],
                               enrichment=a["enrichment"], resource=entity.resource,
                               anomaly=AnomalyDetails.model_validate(a["anomaly"]) if a.get("anomaly") else None),
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
