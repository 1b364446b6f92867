"""Agent: raw topics -> normalized, enriched events (or dead letters). Logic lives in pipeline.process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline import deadletter, metrics
from pipeline.deadletter import send_all
from pipeline.kafka.codec import dumps, raw_record
from pipeline.kafka.send import Direct, Out
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


def register(rt: Runtime) -> None:
    """Define the normalize agent on the app."""
    raw_prefix = rt.names.raw("")
    max_bytes = rt.settings.parse.max_record_bytes
    events = Direct(rt.app, rt.names.events)

    @rt.app.agent(rt.topics["raw"], name="secmon.normalize", concurrency=1)
    async def normalize(stream):
        async for batch in stream.take_events(500, within=0.5):
            outs: list[Out] = []
            for item in batch:
                msg = item.message
                source = msg.topic[len(raw_prefix) :]
                normalizer = NORMALIZERS[source]
                record = raw_record(source, msg.value, msg.headers, msg.topic, msg.partition, msg.offset)
                metrics.EVENTS_IN.labels(stage="normalize", source=source).inc()
                result = process_record(record, normalizer, rt.enrichers, rt.parse_options, max_bytes)
                if result.dead_letter is not None:
                    outs.append(deadletter.out(rt, result.dead_letter, key=msg.key, origin=msg))
                # key by the raw record's key (its file) so one file's events stay in order
                for event in result.events:
                    key = msg.key or event.event.id.encode()
                    outs.append(Out(events, "events", key, dumps(event.to_doc()), origin=msg))
                metrics.EVENTS_OUT.labels(stage="normalize", source=source).inc(len(result.events))
            await send_all(rt, outs, "normalize")  # acked only once Kafka has every output of the batch
