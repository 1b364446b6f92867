"""What the engine keeps per (detector, entity): its record, typed, with a versioned stored form.

One `EntityRecord` per store key `<detector>|<entity>`: the latest event time seen (the watermark
lateness is judged by), the detector's own state (a JSON value only the detector reads), and the
alert of each variant (None: the detector's main alert) while it may still fold new findings in.

The engine works on these objects; a store that persists (the worker's Faust table and its
changelog) holds `to_doc()` and reads back with `from_doc()`, which also reads the records
written before records were versioned (RECORD_VERSION 1: keys "wm", "s", "a", "a:<variant>"),
so a worker upgraded in place keeps its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detectors.base import State  # a detector's own state: JSON, read only by that detector
from schemas.errors import SecmonError

RECORD_VERSION = 2


class RecordError(SecmonError, ValueError):
    """A stored record this version of secmon cannot read; the message says which and why."""


@dataclass(slots=True)
class AlertSlot:
    """The alert of one detector, entity and variant: what its next finding folds into."""

    id: str
    first: float  # epoch seconds of its first finding
    last: float  # and of its latest
    status: str = "open"  # open | resolved
    count: int = 0  # findings folded in
    events: list[str] = field(default_factory=list)  # the latest event ids (MAX_EVENT_IDS)
    event_count: int = 0  # all event ids ever folded in
    datasets: list[str] = field(default_factory=list)
    enrichment: list[str] = field(default_factory=list)
    severity: str | None = None  # the highest a finding gave; None: the detector's own
    anomaly: dict[str, Any] | None = None  # the strongest anomaly finding (AnomalyDetails JSON)
    message: str | None = None  # the worst finding's sentence (highest severity; ties: the latest)
    rank: int = -1  # that finding's severity rank (SEVERITY_RANK index)
    findings: list[str] = field(default_factory=list)  # distinct finding sentences, the first MAX_FINDINGS

    def to_doc(self) -> dict[str, Any]:
        """The stored form (fields left out when unset)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "first": self.first,
            "last": self.last,
            "status": self.status,
            "count": self.count,
            "events": self.events,
            "event_count": self.event_count,
            "datasets": self.datasets,
            "enrichment": self.enrichment,
        }
        if self.severity is not None:
            doc["severity"] = self.severity
        if self.anomaly is not None:
            doc["anomaly"] = self.anomaly
        if self.message is not None:  # absent in records written before worst-finding merging: the next finding sets it
            doc.update(message=self.message, rank=self.rank, findings=self.findings)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any], *, severity_key: str = "severity") -> AlertSlot:
        """An alert slot from its stored form (version 1 named the severity "sev")."""
        return cls(
            id=doc["id"],
            first=doc["first"],
            last=doc["last"],
            status=doc.get("status", "open"),
            count=doc["count"],
            events=list(doc["events"]),
            event_count=doc["event_count"],
            datasets=list(doc["datasets"]),
            enrichment=list(doc["enrichment"]),
            severity=doc.get(severity_key),
            anomaly=doc.get("anomaly"),
            message=doc.get("message"),
            rank=doc.get("rank", -1),
            findings=list(doc.get("findings", ())),
        )


@dataclass(slots=True)
class EntityRecord:
    """Everything the engine keeps for one (detector, entity)."""

    watermark: float | None = None  # latest event time seen (epoch seconds)
    state: State | None = None  # the detector's state (None: none, or not started)
    alerts: dict[str | None, AlertSlot] = field(default_factory=dict)  # by variant (None: the main alert)

    def last_seen(self) -> float | None:
        """The latest of its watermark and its alerts' last findings (what idle expiry counts from)."""
        last = self.watermark
        for alert in self.alerts.values():
            if last is None or alert.last > last:
                last = alert.last
        return last

    def to_doc(self) -> dict[str, Any]:
        """The stored form: JSON for a Faust table's changelog."""
        doc: dict[str, Any] = {"v": RECORD_VERSION, "wm": self.watermark, "s": self.state}
        if self.alerts:
            doc["alerts"] = [
                alert.to_doc() if variant is None else {"variant": variant, **alert.to_doc()}
                for variant, alert in self.alerts.items()
            ]  # the main alert has no variant
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EntityRecord:
        """A record from its stored form, of this version or of version 1 (unversioned)."""
        version = doc.get("v", 1)
        if version == RECORD_VERSION:
            alerts = {a.get("variant"): AlertSlot.from_doc(a) for a in doc.get("alerts", ())}
            return cls(watermark=doc.get("wm"), state=doc.get("s"), alerts=alerts)
        if version == 1:
            return _from_v1(doc)
        raise RecordError(
            f"detector state record of version {version!r}: this secmon reads versions 1 to "
            f"{RECORD_VERSION}; upgrade the worker that reads it (a newer one wrote it)"
        )


def _from_v1(doc: dict[str, Any]) -> EntityRecord:
    """Version 1: {"wm": watermark, "s": state, "a": main alert, "a:<variant>": alert of a variant}."""
    alerts: dict[str | None, AlertSlot] = {}
    for key, value in doc.items():
        if key == "a":
            alerts[None] = AlertSlot.from_doc(value, severity_key="sev")
        elif key.startswith("a:"):
            alerts[key[2:]] = AlertSlot.from_doc(value, severity_key="sev")
    return EntityRecord(watermark=doc.get("wm"), state=doc.get("s"), alerts=alerts)
