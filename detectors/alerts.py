"""An entity's alerts: fold each finding into the open alert (dedup), open a new one, or resolve it,
and build the Alert document from the slot. Pure: the engine calls `merge` and tells its hooks.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from detectors.base import Detector, Finding
from detectors.records import AlertSlot, EntityRecord
from schemas.alert import MAX_EVENT_IDS, MAX_FINDINGS, Alert, Rule
from schemas.event import Event
from schemas.ids import alert_id

SEVERITY_RANK = ("low", "medium", "high", "critical")


def merge(
    det: Detector, entity_key: str, record: EntityRecord, finding: Finding, event: Event | None, late: float
) -> tuple[Alert, bool] | None:
    """Create the entity's alert, fold the finding into the open one (dedup), or resolve it: the
    alert and whether it is new, or None when nothing changed (`late`: the engine's lateness, s)."""
    ts = finding.timestamp.timestamp()
    current = record.alerts.get(finding.variant)
    if finding.resolve:
        if current is None or current.status == "resolved":
            return None
        current.status = "resolved"
        current.last = max(current.last, ts)
        return _build_alert(det, entity_key, current, finding), False
    is_new = (
        current is None or current.status == "resolved" or ts - current.first >= det.meta.dedup_period.total_seconds()
    )
    if current is None or is_new:
        if finding.variant is not None:
            _drop_spent_variants(record, ts - det.meta.dedup_period.total_seconds() - late)
        first_iso = finding.timestamp.astimezone(timezone.utc).isoformat()
        dedup_key = entity_key if finding.variant is None else f"{entity_key}#{finding.variant}"
        current = AlertSlot(id=alert_id(det.meta.id, dedup_key, first_iso), first=ts, last=ts)
    current.count += 1
    current.last = max(current.last, ts)
    current.events = (current.events + [i for i in finding.event_ids if i not in current.events])[-MAX_EVENT_IDS:]
    current.event_count += len(finding.event_ids)
    current.datasets = sorted(set(current.datasets) | set(finding.datasets))
    if event is not None:
        current.enrichment = sorted(set(current.enrichment) | set(event.secmon.enrichment))
    if finding.severity is not None:
        held = current.severity if current.severity is not None else finding.severity
        current.severity = max(finding.severity, held, key=SEVERITY_RANK.index)
    rank = SEVERITY_RANK.index(finding.severity or det.meta.severity)
    if rank >= current.rank:  # the worst finding names the alert; a tie keeps the latest
        current.message, current.rank = finding.message, rank
    if finding.message not in current.findings and len(current.findings) < MAX_FINDINGS:
        current.findings.append(finding.message)
    if finding.anomaly is not None and finding.anomaly.score >= (current.anomaly or {}).get("score", -1e9):
        current.anomaly = finding.anomaly.model_dump(mode="json")
    record.alerts[finding.variant] = current
    return _build_alert(det, entity_key, current, finding), is_new


def _drop_spent_variants(record: EntityRecord, before: float) -> None:
    """Forget variant alerts opened before `before` (dedup period + lateness ago): no finding can
    fold into them any more, and an entity with a variant per source (one alert per attacking IP)
    must not keep every one it ever had while it stays active."""
    for variant in [v for v, slot in record.alerts.items() if v is not None and slot.first < before]:
        del record.alerts[variant]


def _build_alert(det: Detector, entity_key: str, a: AlertSlot, finding: Finding) -> Alert:
    """The Alert document of a slot: validated in one pass over plain data (a model per part cost
    twice as much), with the rule part, the same for every alert of a detector, built once."""
    meta = det.meta
    entity = finding.entity
    dedup_key = entity_key if finding.variant is None else f"{entity_key}#{finding.variant}"
    maturity = finding.maturity or meta.maturity
    return Alert.model_validate(
        {
            "@timestamp": _utc(a.last),
            "message": finding.message if finding.resolve or a.message is None else a.message,
            "rule": _rule(meta.id, meta.title, meta.version, maturity, meta.tags, meta.ruleset, meta.references),
            "alert": {
                "id": a.id,
                "status": a.status,
                "severity": a.severity or meta.severity,
                "dedup_key": dedup_key,
                "count": a.count,
                "first_seen": _utc(a.first),
                "last_seen": _utc(a.last),
            },
            "user": entity.user,
            "source": entity.source,
            "destination": entity.destination,
            "host": entity.host,
            "organization": entity.organization,
            "cloud": entity.cloud,
            "secmon": {
                "event_ids": a.events,
                "event_count": a.event_count,
                "datasets": a.datasets,
                "enrichment": a.enrichment,
                "resource": entity.resource,
                "anomaly": a.anomaly or None,
                "findings": a.findings if len(a.findings) > 1 else [],
            },
        }
    )


@lru_cache(maxsize=4096)
def _rule(
    rule_id: str,
    name: str,
    version: int,
    maturity: str,
    tags: tuple[str, ...],
    ruleset: str,
    references: tuple[str, ...],
) -> Rule:
    """A detector's `rule.*`, by value (alerts only read it: one instance serves all of them)."""
    return Rule(
        id=rule_id,
        name=name,
        version=version,
        maturity=maturity,
        tags=list(tags),
        ruleset=ruleset,
        reference=list(references),
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
