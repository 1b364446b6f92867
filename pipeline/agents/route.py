"""Agent: events -> detect topic, keyed `<detector>|<entity>` so each entity's state has one owner."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import ValidationError

from pipeline import metrics
from pipeline.agents.codec import dumps
from schemas.event import Event

if TYPE_CHECKING:
    from pipeline.app import Runtime


def register(rt: Runtime) -> None:
    """Define the route agent on the app."""
    from pipeline.app import build_engine
    from detectors.state import DictStore

    router = build_engine(rt, DictStore())  # routes() reads no state

    @rt.app.agent(rt.topics["events"], name="secmon.route", concurrency=1)
    async def route(stream):
        async for batch in stream.take_events(500, within=0.5):
            sends = []
            for item in batch:
                try:
                    event = Event.model_validate_json(item.message.value)
                except ValidationError:
                    continue  # index_events dead-letters the same message; counting it twice would lie
                for det_id, key in router.routes(event):
                    body = {"detector": det_id, "key": key, "event": event.to_doc()}
                    sends.append(await rt.topics["detect"].send(key=f"{det_id}|{key}".encode(), value=dumps(body)))
                    metrics.EVENTS_OUT.labels(stage="route", source=event.event.module).inc()
            await asyncio.gather(*sends)
