"""Pieces the control-event detectors share: which job an event belongs to, and the alert entity."""

from __future__ import annotations

from detectors.base import Entity, Finding
from detectors.rules._clock import job_name
from schemas.alert import Resource
from schemas.event import Control, Event


def control_of(event: Event, kind: str, statuses: tuple[str, ...] = ()) -> Control | None:
    """The event's control details when it is of `kind` (and one of `statuses`, if given)."""
    control = event.secmon.control
    if control is None or control.kind != kind or (statuses and control.status not in statuses):
        return None
    return control


def job_key(kind: str, statuses: tuple[str, ...] = ()):
    """A key function: the job name of control events of `kind` (None for every other event)."""

    def key(event: Event) -> str | None:
        control = control_of(event, kind, statuses)
        return job_name(control.job_id) if control else None

    return key


def job_entity(resource_type: str, job: str) -> Entity:
    """Entity of a per-job alert: the job as a resource (no ECS field names a backup job)."""
    return Entity(resource=Resource(type=resource_type, id=job))


def finding(message: str, entity: Entity, ts, event: Event | None = None, resolve: bool = False) -> Finding:
    """A finding at `ts` (a datetime), with the event behind it when there is one."""
    return Finding(
        message=message,
        entity=entity,
        timestamp=ts,
        resolve=resolve,
        event_ids=(event.event.id,) if event else (),
        datasets=(event.event.dataset,) if event else (),
    )
