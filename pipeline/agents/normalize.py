"""Agent: raw topics -> normalized, enriched events (or dead letters). Logic lives in pipeline.process."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pipeline import deadletter, metrics
from pipeline.kafka.codec import dumps, raw_record
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


def register(rt: Runtime) -> None:
    """Define the normalize agent on the app."""
    raw_prefix = rt.names.raw("")
    max_bytes = rt.settings.parse.max_record_bytes

    @rt.app.agent(rt.topics["raw"], name="secmon.normalize", concurrency=1)
    async def normalize(stream):
        async for batch in stream.take_events(500, within=0.5):
            sends = []
            for item in batch:
                msg = item.message
                source = msg.topic[len(raw_prefix) :]
                normalizer = NORMALIZERS[source]
                record = raw_record(source, msg.value, msg.headers, msg.topic, msg.partition, msg.offset)
                metrics.EVENTS_IN.labels(stage="normalize", source=source).inc()
                result = process_record(record, normalizer, rt.enrichers, rt.parse_options, max_bytes)
                if result.dead_letter is not None:
                    sends.append(await deadletter.send(rt, result.dead_letter, key=msg.key))
                # key by the raw record's key (its file) so one file's events stay in order
                for event in result.events:
                    sends.append(
                        await rt.topics["events"].send(
                            key=msg.key or event.event.id.encode(), value=dumps(event.to_doc())
                        )
                    )
                metrics.EVENTS_OUT.labels(stage="normalize", source=source).inc(len(result.events))
            await asyncio.gather(*sends)  # acked only once Kafka has every output of the batch
