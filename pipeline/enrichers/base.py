"""What an enricher is: a named, versioned function that adds facts to an event in place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from schemas.event import Event


@dataclass(frozen=True)
class Enricher:
    """Adds facts to an event; `version` names the database or list it used (provenance)."""

    name: str
    version: str
    apply: Callable[[Event], None]

    @cached_property  # read for every event: made once
    def stamp(self) -> str:
        """`name@version`, recorded on every event it touched."""
        return f"{self.name}@{self.version}"


def enrich(event: Event, enrichers: Sequence[Enricher]) -> Event:
    """Apply every enricher in order and record which ones ran."""
    for enricher in enrichers:
        enricher.apply(event)
        event.secmon.enrichment.append(enricher.stamp)
    return event
