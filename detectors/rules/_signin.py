"""Small pieces the sign-in detectors share: routing filters, alert entities, readable durations."""

from __future__ import annotations

from collections.abc import Callable

from detectors.base import Entity, field_value
from schemas.event import Endpoint, Event, User

KeyFn = Callable[[Event], str | None]


def key_when(outcome: str, *paths: str) -> KeyFn:
    """An entity key from `paths` for events with this `event.outcome` only.

    The pipeline sends one detect message per (detector, entity) an event is routed to, so a
    detector that only ever looks at successes should not be routed the failures (and vice versa).
    """

    def key(event: Event) -> str | None:
        if event.event.outcome != outcome:
            return None
        values = [field_value(event, path) for path in paths]
        if any(v is None or v == "" for v in values):
            return None
        return "|".join(str(v) for v in values)

    return key


def source_of(event: Event) -> Endpoint | None:
    """The event's source endpoint for an alert: address plus its geo and AS context."""
    src = event.source
    if src is None or src.ip is None:
        return None
    return Endpoint(ip=src.ip, geo=src.geo, **{"as": src.as_})


def user_entity(event: Event) -> Entity:
    """Entity of a per-user finding: the user, their workspace and where they came from."""
    return Entity(
        user=User(name=event.user.name) if event.user else None,
        source=source_of(event),
        organization=event.organization,
    )


def ip_of(event: Event) -> str:
    """The source IP as text for messages ("unknown" when the source gave none)."""
    return event.source.ip if event.source and event.source.ip else "unknown"


def duration(seconds: float) -> str:
    """`45s`, `30 min`, `2h 05m`, `3d 4h`: a span an analyst reads at a glance."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d {int(seconds % 86400 // 3600)}h"
