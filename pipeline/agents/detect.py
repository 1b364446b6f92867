"""Agent: detect topic -> alerts topic, state in a Faust table co-partitioned with the topic.

A message carries one event (or a clock tick) for one entity key and the detectors that want it;
the table key is `<detector>|<entity>`, written on the partition of the entity's messages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from detectors.base import State
from detectors.engine import Engine
from detectors.registry import DETECTORS
from pipeline import metrics
from pipeline.deadletter import dead_letter_message
from pipeline.kafka.codec import dumps, loads
from pipeline.kafka.topics import COMPACTED_TOPIC_CONFIG, partition_of
from pipeline.lifecycle.forget import digest_key, forget_digest, key_id
from pipeline.runtime import build_engine
from schemas.deadletter import ErrorCode
from schemas.event import Event
from schemas.lifecycle import ForgetFanout

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

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


async def _forget(rt: Runtime, engine: Engine, message: Any, partition: int) -> None:
    """Delete the purged workspace's entries held on this partition; a bad or failing request is
    dead-lettered and counted, never raised (it would stop the agent)."""
    try:
        fan = ForgetFanout.model_validate_json(message.value)
    except ValidationError as exc:
        await _forget_failed(rt, message, "invalid_shape", f"not a forget fan-out message: {exc.errors()[0]['msg']}")
        return
    request, key = fan.forget, digest_key(rt.settings)
    if request.key_id != key_id(key):
        await _forget_failed(rt, message, "invalid_field", f"forget request {request.receipt_id} was digested with "
                             "another key: set the same lifecycle.forget_key on the purge CLI and the workers, then "
                             "purge again; nothing was forgotten")
        return
    try:
        deleted = engine.forget(
            request.workspace, alert_ids=request.alert_ids, entities={"user.name": request.users},
            digest=lambda value: forget_digest(value, key),
            owns=lambda entity: partition_of(entity, fan.partitions) == partition)
    except Exception as exc:  # noqa: BLE001 - an odd state entry must not stop detection
        log.exception("forgetting workspace %s failed on partition %d", request.workspace, partition)
        await _forget_failed(rt, message, "internal_error", f"{type(exc).__name__}: {exc}")
        return
    metrics.STATE_FORGOTTEN.inc(len(deleted))
    log.info("forgot %d detector state entries of workspace %s on partition %d (request %s part %d/%d)",
             len(deleted), request.workspace, partition, request.receipt_id, request.part, request.parts)


async def _forget_failed(rt: Runtime, message: Any, code: ErrorCode, reason: str) -> None:
    log.error("forget message at %s[%d]@%d: %s", message.topic, message.partition, message.offset, reason)
    await dead_letter_message(rt, message, "detect", code, reason)


def register(rt: Runtime) -> None:
    """Define the detect agent and its state table on the app."""
    import faust

    schema: Any = faust.Schema(key_serializer="json", value_serializer="json")
    # compacted changelog: a forgotten entry's old value must leave the broker within the 24 h promise
    table = rt.app.Table("secmon-detector-state", default=None, schema=schema, partitions=rt.settings.kafka.partitions,
                         extra_topic_configs=COMPACTED_TOPIC_CONFIG)
    rt.engine = engine = build_engine(rt, FaustTableStore(table))

    @table.on_recover
    async def reindex() -> None:
        """The table was recovered from its changelog (start, rebalance): the engine's deadline
        indexes are rebuilt from it at the next tick (an entry's deadline and expiry follow from
        the entry, so the changelog is all that needs to survive a restart)."""
        engine.forget_index()

    @rt.app.timer(interval=float(rt.settings.detection.tick_seconds))
    async def tick() -> None:
        """Live clock: one tick message per (detector, entity) that is due (a timed detector's
        deadline came, or the entity has been idle past its time to live), through the detect
        topic, so the tick runs on the partition that owns the entity's table entry. O(due): the
        engine keeps a deadline index beside the table, not a scan of it."""
        backlog = await _detect_backlog(rt)
        if backlog > MAX_TICK_BACKLOG:
            # Wall-clock ticks while far behind would expire deadlines whose closing events are
            # still queued (e.g. the second factor of an SSH login): wait until caught up.
            log.info("skipping a detector tick: %d detect messages not yet consumed", backlog)
            return
        now = datetime.now(timezone.utc).isoformat()
        for det_id, key in engine.due(datetime.fromisoformat(now)):
            body = {"detectors": [det_id], "key": key, "tick": now}
            await rt.topics["detect"].send(key=key.encode(), value=dumps(body))

    # One message at a time: Faust tables need the current event to pick the changelog partition.
    # Sends are not awaited one by one; Faust flushes the producer before it commits offsets.
    @rt.app.agent(rt.topics["detect"], name="secmon.detect", concurrency=1)
    async def detect(stream):
        async for item in stream.events():
            try:
                body = loads(item.message.value)
                if "forget" in body:
                    await _forget(rt, engine, item.message, item.message.partition)
                    continue
                detector_ids = [d for d in body["detectors"] if isinstance(d, str)]
                if "tick" in body:
                    now = datetime.fromisoformat(body["tick"])
                    for alert in [a for d in detector_ids for a in engine.tick_keyed(d, body["key"], now)]:
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
                    alerts += engine.process_keyed(det_id, body["key"], event)
                except Exception:  # an engine bug must not ack-and-drop silently: count and log it
                    log.exception("detection failed for %s on event %s", det_id, event.event.id)
                    metrics.DETECTOR_ERRORS.labels(rule=det_id if det_id in DETECTORS else "unknown").inc()
            for alert in alerts:
                await rt.topics["alerts"].send(key=alert.alert.id.encode(), value=dumps(alert.to_doc()))
