"""The messages of the detect topic (`<prefix>-detect`): one contract for what the detect agent reads.

Four kinds share the topic, so that each runs on the partition owning the entity's state:
- a bundle (since bundle version 1): the events of one route batch for the entities of one detect
  partition, each event once, and the (event, entity key, detectors) routes in their order (from
  the index_events agent, which routes each events batch it wrote: one message per partition and
  batch, not one per event and entity key);
- an event for the detectors keyed on one entity (the routes' form before bundles: still
  read, so that messages queued by an older worker are detected after an upgrade);
- a tick for one (detector, entity) whose deadline came (from the detect agent's own timer);
- a forget fan-out: one part of a purged workspace's forget request, sent to every partition.

On the wire they are told apart by the field only their kind has (`bundle`, `event`, `tick`,
`forget`), so messages already queued when a worker is upgraded still read. Every worker reading
the topic must know bundles before any sends them: upgrade all workers, as for any new form.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import Discriminator, Field, Tag, TypeAdapter, model_validator

from schemas.base import Strict
from schemas.event import Event
from schemas.lifecycle import ForgetFanout
from schemas.types import UtcDatetime


class EventMessage(Strict):
    """One event for the detectors that key it on the same entity."""

    detectors: list[str] = Field(description="Ids of the detectors that want the event for this entity.")
    key: str = Field(description="The entity key (`<field value>|...`); also the Kafka message key.")
    event: Event = Field(description="The normalized, enriched event.")


BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 256 * 1024  # of event JSON per bundle: well under a Kafka message's 1 MB limit


class EventBundle(Strict):
    """Events of one route batch for the entities of one detect partition, in their order."""

    bundle: Literal[1] = Field(description="Version of the bundle form.")
    events: list[Event] = Field(description="The normalized, enriched events, each once.")
    routes: list[tuple[int, str, list[str]]] = Field(
        description="(index in `events`, entity key, ids of the detectors that want the event for this "
        "entity), in the order the detect agent applies them. A route's position in this list is its "
        "place in the partition's order: (partition, offset, position) is what replay protection records."
    )

    @model_validator(mode="after")
    def _routes_name_events(self) -> EventBundle:
        for index, _key, _detectors in self.routes:
            if not 0 <= index < len(self.events):
                raise ValueError(f"a route names event {index} of a bundle of {len(self.events)}")
        return self


class TickMessage(Strict):
    """A clock tick for detectors of one entity whose deadline came or whose state may expire."""

    detectors: list[str] = Field(description="Ids of the detectors to tick for this entity.")
    key: str = Field(description="The entity key; also the Kafka message key.")
    tick: UtcDatetime = Field(description="The tick time (the worker's clock when it was sent).")


def _kind(value: Any) -> str:
    fields = value if isinstance(value, dict) else vars(value)
    if "bundle" in fields:
        return "bundle"
    return "forget" if "forget" in fields else "tick" if "tick" in fields else "event"


DetectMessage = Annotated[
    Annotated[EventBundle, Tag("bundle")]
    | Annotated[EventMessage, Tag("event")]
    | Annotated[TickMessage, Tag("tick")]
    | Annotated[ForgetFanout, Tag("forget")],
    Discriminator(_kind),
]
DETECT_MESSAGE: TypeAdapter[EventBundle | EventMessage | TickMessage | ForgetFanout] = TypeAdapter(DetectMessage)


def event_message(detectors: list[str], key: str, event_doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON of an EventMessage around an event already dumped once (`Event.to_doc()`): the
    routes send one per entity key of every event, so the event is not validated again."""
    return {"detectors": detectors, "key": key, "event": event_doc}


def bundle_message(events: list[bytes], routes: list[tuple[int, str, list[str]]]) -> bytes:
    """The JSON of an EventBundle around events already on the wire (each one message value of the
    events topic, read by the same JSON parser the detect agent uses): their bytes are put in as
    they came, not parsed and dumped again."""
    envelope = {"bundle": BUNDLE_VERSION, "routes": routes}
    try:
        head = orjson.dumps(envelope)
    except TypeError:  # what orjson refuses (a lone surrogate in a key): the json module writes it
        head = json.dumps(envelope, separators=(",", ":")).encode()
    return b"".join((head[:-1], b',"events":[', b",".join(events), b"]}"))


def tick_message(detectors: list[str], key: str, at: datetime) -> dict[str, Any]:
    """The JSON of a TickMessage."""
    return {"detectors": detectors, "key": key, "tick": at.isoformat()}
