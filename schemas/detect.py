"""The messages of the detect topic (`<prefix>-detect`): one contract for what the detect agent reads.

Three kinds share the topic, so that each runs on the partition owning the entity's state:
- an event for the detectors keyed on one entity (from the route agent);
- a tick for one (detector, entity) whose deadline came (from the detect agent's own timer);
- a forget fan-out: one part of a purged workspace's forget request, sent to every partition.

On the wire they are told apart by the field only their kind has (`event`, `tick`, `forget`), as
they always were, so messages already queued when a worker is upgraded still read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, TypeAdapter

from schemas.base import Strict
from schemas.event import Event
from schemas.lifecycle import ForgetFanout
from schemas.types import UtcDatetime


class EventMessage(Strict):
    """One event for the detectors that key it on the same entity."""

    detectors: list[str] = Field(description="Ids of the detectors that want the event for this entity.")
    key: str = Field(description="The entity key (`<field value>|...`); also the Kafka message key.")
    event: Event = Field(description="The normalized, enriched event.")


class TickMessage(Strict):
    """A clock tick for detectors of one entity whose deadline came or whose state may expire."""

    detectors: list[str] = Field(description="Ids of the detectors to tick for this entity.")
    key: str = Field(description="The entity key; also the Kafka message key.")
    tick: UtcDatetime = Field(description="The tick time (the worker's clock when it was sent).")


def _kind(value: Any) -> str:
    fields = value if isinstance(value, dict) else vars(value)
    return "forget" if "forget" in fields else "tick" if "tick" in fields else "event"


DetectMessage = Annotated[
    Annotated[EventMessage, Tag("event")]
    | Annotated[TickMessage, Tag("tick")]
    | Annotated[ForgetFanout, Tag("forget")],
    Discriminator(_kind),
]
DETECT_MESSAGE: TypeAdapter[EventMessage | TickMessage | ForgetFanout] = TypeAdapter(DetectMessage)


def event_message(detectors: list[str], key: str, event_doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON of an EventMessage around an event already dumped once (`Event.to_doc()`): the
    route agent sends one per entity key of every event, so the event is not validated again."""
    return {"detectors": detectors, "key": key, "event": event_doc}


def tick_message(detectors: list[str], key: str, at: datetime) -> dict[str, Any]:
    """The JSON of a TickMessage."""
    return {"detectors": detectors, "key": key, "tick": at.isoformat()}
