"""Agent: detect topic -> alerts topic, state in a Faust table co-partitioned with the topic.

A message carries one event (or a clock tick) for one entity key and the detectors that want it;
the table key is `<detector>|<entity>`, written on the partition of the entity's messages.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import ValidationError

from detectors.base import State
from detectors.registry import DETECTORS
from pipeline import metrics
from pipeline.agents.codec import dumps
from pipeline.agents.forget import partition_of
from pipeline.lifecycle.purge import purge_workspace_state
from schemas.event import Event
from schemas.lifecycle import ForgetRequest

if TYPE_CHECKING:
    from pipeline.app import Runtime

log = logging.getLogger(__name__)


class FaustTableStore:
    """StateStore over a Faust table (changelog-backed, recovered on restart and rebalance)."""

    def __init__(self, table) -> None:
        self._table = table

    def get(self, key: str) -> State | None:
        return self._table.get(key)

    def put(self, key: str, value: State) -> None:
        self._table[key] = value

    def delete(self, key: str) -> None:
        self._table.pop(key, None)

    def keys(self) -> Iterator[str]:
        return iter(list(self._table.keys()))


MAX_TICK_BACKLOG = 10_000


async def _detect_backlog(rt: Runtime) -> int:
    """Messages of the detect topic not yet fetched by this worker (highwater - position)."""
    consumer = rt.app.consumer
    backlog = 0
    for tp in consumer.assignment():
        if tp.topic == rt.names.detect:
            highwater, position = consumer.highwater(tp), await consumer.position(tp)
            if highwater is not None and position is not None:
                backlog += max(0, highwater - position)
    return backlog


def _forget(rt: Runtime, body: dict, partition: int) -> None:
    """Delete the purged workspace's entries held on this partition (ValueError: a bad request)."""
    request = ForgetRequest.model_validate(body["forget"])
    partitions = int(body["partitions"])
    deleted = purge_workspace_state(rt.engine.store, request.workspace, alert_ids=request.alert_ids,
                                    entities={"user.name": request.users}, hashed=True,
                                    owns=lambda entity: partition_of(entity, partitions) == partition)
    metrics.STATE_FORGOTTEN.inc(len(deleted))
    log.info("forgot %d detector state entries of workspace %s on partition %d (request %s part %d/%d)",
             len(deleted), request.workspace, partition, request.receipt_id, request.part, request.parts)


def register(rt: Runtime) -> None:
    """Define the detect agent and its state table on the app."""
    from pipeline.app import build_engine

    import faust

    schema = faust.Schema(key_serializer="json", value_serializer="json")
    table = rt.app.Table("secmon-detector-state", default=None, schema=schema, partitions=rt.settings.kafka.partitions)
    rt.engine = build_engine(rt, FaustTableStore(table))

    @rt.app.timer(interval=float(rt.settings.detection.tick_seconds))
    async def tick() -> None:
        """Live clock for timed detectors: one tick message per watched entity, through the detect
        topic, so the tick runs on the partition that owns the entity's table entry."""
        backlog = await _detect_backlog(rt)
        if backlog > MAX_TICK_BACKLOG:
            # Wall-clock ticks while far behind would expire deadlines whose closing events are
            # still queued (e.g. the second factor of an SSH login): wait until caught up.
            log.info("skipping a detector tick: %d detect messages not yet consumed", backlog)
            return
        now = datetime.now(timezone.utc).isoformat()
        for det_id, key in sorted(rt.engine.timer_keys()):
            body = {"detectors": [det_id], "key": key, "tick": now}
            await rt.topics["detect"].send(key=key.encode(), value=dumps(body))

    # One message at a time: Faust tables need the current event to pick the changelog partition.
    # Sends are not awaited one by one; Faust flushes the producer before it commits offsets.
    @rt.app.agent(rt.topics["detect"], name="secmon.detect", concurrency=1)
    async def detect(stream):
        async for item in stream.events():
            try:
                body = json.loads(item.message.value)
                if "forget" in body:
                    _forget(rt, body, item.message.partition)
                    continue
                detector_ids = [d for d in body["detectors"] if isinstance(d, str)]
                if "tick" in body:
                    now = datetime.fromisoformat(body["tick"])
                    for alert in [a for d in detector_ids for a in rt.engine.tick_keyed(d, body["key"], now)]:
                        await rt.topics["alerts"].send(key=alert.alert.id.encode(), value=dumps(alert.to_doc()))
                    continue
                event = Event.model_validate(body["event"])
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                log.error("undecodable detect message at %s: %s", item.message.tp, type(exc).__name__)
                metrics.DEAD_LETTERS.labels(stage="detect", error_code="invalid_shape").inc()
                continue
            alerts = []
            for det_id in detector_ids:
                try:
                    alerts += rt.engine.process_keyed(det_id, body["key"], event)
                except Exception:  # an engine bug must not ack-and-drop silently: count and log it
                    log.exception("detection failed for %s on event %s", det_id, event.event.id)
                    metrics.DETECTOR_ERRORS.labels(rule=det_id if det_id in DETECTORS else "unknown").inc()
            for alert in alerts:
                await rt.topics["alerts"].send(key=alert.alert.id.encode(), value=dumps(alert.to_doc()))
