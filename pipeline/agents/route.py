"""Agent: events -> detect topic, keyed by entity so each entity's state has one owner.

Detectors that key on the same entity (e.g. every user-keyed sign-in detector) share one message:
the detect topic carries an event once per distinct entity key, not once per detector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline import metrics
from pipeline.deadletter import send_all
from pipeline.kafka.codec import dumps, loads
from pipeline.kafka.send import Out
from pipeline.runtime import build_engine
from schemas.detect import event_message
from schemas.event import Event

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


def register(rt: Runtime) -> None:
    """Define the route agent on the app."""
    from detectors.state import DictStore

    router = build_engine(rt, DictStore())  # routes() reads no state

    @rt.app.agent(rt.topics["events"], name="secmon.route", concurrency=1)
    async def route(stream):
        async for batch in stream.take_events(500, within=0.5):
            outs: list[Out] = []
            for item in batch:
                try:
                    doc = loads(item.message.value)
                    event = Event.model_validate(doc)
                except ValueError:  # not JSON, or not an event (ValidationError)
                    continue  # index_events dead-letters the same message; counting it twice would lie
                by_key: dict[str, list[str]] = {}
                for det_id, key in router.routes(event):
                    by_key.setdefault(key, []).append(det_id)
                # the event's own JSON, not a dump of the model: the detect agent validates it again
                for key, detector_ids in by_key.items():
                    body = dumps(event_message(detector_ids, key, doc))
                    outs.append(Out(rt.topics["detect"], "detect", key.encode(), body, origin=item.message))
                metrics.EVENTS_OUT.labels(stage="route", source=event.event.module).inc(len(by_key))
            await send_all(rt, outs, "detect")  # acked only once Kafka has every output of the batch
