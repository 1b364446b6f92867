"""Agent: detect topic -> alerts topic, state in a Faust table co-partitioned with the topic.

A message carries one event (or a clock tick) for one entity key and the detectors that want it;
the table key is `<detector>|<entity>`, written on the partition of the entity's messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from detectors.engine import Engine
from detectors.records import EntityRecord
from detectors.registry import DETECTORS
from pipeline import metrics
from pipeline.deadletter import send_message
from pipeline.kafka.codec import dumps, loads
from pipeline.kafka.send import SendFailed, deliver
from pipeline.kafka.topics import DETECTOR_STATE_TOPIC_CONFIG, partition_of
from pipeline.lifecycle.forget import digest_key, forget_digest, key_id
from pipeline.runtime import build_engine
from schemas.alert import Alert
from schemas.deadletter import ErrorCode
from schemas.detect import DETECT_MESSAGE, EventMessage, TickMessage, tick_message
from schemas.lifecycle import ForgetFanout

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


class FaustTableStore:
    """StateStore over a Faust table (changelog-backed, recovered on restart and rebalance). The table
    holds each record's stored form, so the changelog is JSON a worker of any version can read.

    Writes of one detect message are held (`begin` .. `commit`) until its alerts are on the broker,
    and each entry records the message's position (`at`: partition, offset). A worker killed before
    its offsets were committed replays those messages; one an entry already holds is not applied to
    it again (a sliding window would count its event twice, and raise a different alert)."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._held: dict[str, dict[str, Any] | None] = {}
        self._at: list[int] | None = None

    def begin(self, partition: int, offset: int) -> None:
        """Writes from here on belong to the message at partition/offset."""
        self._at = [partition, offset]

    def applied(self, key: str) -> bool:
        """Whether the entry under key already holds the current message (a replay)."""
        doc = self._table.get(key)
        at = None if doc is None else doc.get("at")
        return self._at is not None and at is not None and at[0] == self._at[0] and at[1] >= self._at[1]

    def commit(self) -> None:
        """Write the held entries to the table (inside the message's event: Faust picks the
        changelog partition from it)."""
        for key, doc in self._held.items():
            if doc is None:
                self._table.pop(key, None)
            else:
                self._table[key] = doc
        self._held.clear()
        self._at = None

    def get(self, key: str) -> EntityRecord | None:
        doc = self._held[key] if key in self._held else self._table.get(key)
        return None if doc is None else EntityRecord.from_doc(doc)

    def put(self, key: str, value: EntityRecord) -> None:
        doc = value.to_doc()
        self._held[key] = doc if self._at is None else {**doc, "at": self._at}

    def delete(self, key: str) -> None:
        self._held[key] = None

    def keys(self) -> Iterator[str]:
        held = [k for k, doc in self._held.items() if doc is not None]
        return iter(list(dict.fromkeys([*self._table.keys(), *held])))


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


async def _forget(rt: Runtime, engine: Engine, fan: ForgetFanout, message: Any) -> None:
    """Delete the purged workspace's entries held on this partition; a failing request is
    dead-lettered and counted, never raised (it would stop the agent)."""
    partition = message.partition
    request, key = fan.forget, digest_key(rt.settings)
    if request.key_id != key_id(key):
        await _forget_failed(
            rt,
            message,
            "invalid_field",
            f"forget request {request.receipt_id} was digested with "
            "another key: set the same lifecycle.forget_key on the purge CLI and the workers, then "
            "purge again; nothing was forgotten",
        )
        return
    try:
        deleted = engine.forget(
            request.workspace,
            alert_ids=request.alert_ids,
            entities={"user.name": request.users},
            digest=lambda value: forget_digest(value, key),
            owns=lambda entity: partition_of(entity, fan.partitions) == partition,
        )
    except Exception as exc:  # noqa: BLE001 - an odd state entry must not stop detection
        log.exception("forgetting workspace %s failed on partition %d", request.workspace, partition)
        await _forget_failed(rt, message, "internal_error", f"{type(exc).__name__}: {exc}")
        return
    metrics.STATE_FORGOTTEN.inc(len(deleted))
    log.info(
        "forgot %d detector state entries of workspace %s on partition %d (request %s part %d/%d)",
        len(deleted),
        request.workspace,
        partition,
        request.receipt_id,
        request.part,
        request.parts,
    )


async def _forget_failed(rt: Runtime, message: Any, code: ErrorCode, reason: str) -> None:
    log.error("forget message at %s[%d]@%d: %s", message.topic, message.partition, message.offset, reason)
    await send_message(rt, message, "detect", code, reason)


def register(rt: Runtime) -> None:
    """Define the detect agent and its state table on the app."""
    import faust

    schema: Any = faust.Schema(key_serializer="json", value_serializer="json")
    # compacted changelog: a forgotten entry's old value must leave the broker within the 24 h promise
    table = rt.app.Table(
        "secmon-detector-state",
        default=None,
        schema=schema,
        partitions=rt.settings.kafka.partitions,
        extra_topic_configs=DETECTOR_STATE_TOPIC_CONFIG,
    )
    store = FaustTableStore(table)
    rt.engine = engine = build_engine(rt, store)

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
        now = datetime.now(timezone.utc)
        detect_topic = rt.topics["detect"]
        ticks = [(key, dumps(tick_message([det_id], key, now))) for det_id, key in engine.due(now)]
        await asyncio.gather(*[deliver(detect_topic, "detect", key=k.encode(), value=v) for k, v in ticks])

    # One message at a time: Faust tables need the current event to pick the changelog partition.
    # Every output is awaited until the broker has it (pipeline.kafka.send): only then is the next
    # message taken, so no offset is committed past an alert or dead letter that was not written.
    @rt.app.agent(rt.topics["detect"], name="secmon.detect", concurrency=1)
    async def detect(stream):
        async for item in stream.events():
            try:
                message = DETECT_MESSAGE.validate_python(loads(item.message.value))
            except ValueError as exc:  # not JSON, or not one of the topic's messages (ValidationError)
                log.error("undecodable detect message at %s: %s", item.message.tp, type(exc).__name__)
                await send_message(
                    rt, item.message, "detect", "invalid_shape", f"not a detect-topic message: {_first_error(exc)}"
                )
                continue
            store.begin(item.message.partition, item.message.offset)
            if isinstance(message, ForgetFanout):
                await _forget(rt, engine, message, item.message)
                store.commit()
                continue
            detectors = [d for d in message.detectors if not store.applied(f"{d}|{message.key}")]
            if len(detectors) < len(message.detectors):
                metrics.REPLAYS_SKIPPED.inc(len(message.detectors) - len(detectors))
            if isinstance(message, TickMessage):
                alerts = [a for d in detectors for a in engine.tick_keyed(d, message.key, message.tick)]
            else:
                alerts = _detect(engine, message, detectors)
            await _emit(rt, alerts, item.message)
            store.commit()  # after the alerts: a crash in between replays the message whole


async def _emit(rt: Runtime, alerts: list[Alert], message: Any) -> None:
    """Send each alert and wait for the broker; one Kafka refuses for good is dead-lettered with
    the message that raised it (a retry can replay it), never dropped silently."""
    for alert in alerts:
        try:
            await deliver(rt.topics["alerts"], "alerts", key=alert.alert.id.encode(), value=dumps(alert.to_doc()))
        except SendFailed as exc:
            log.error("alert %s not sent: %s", alert.alert.id, exc)
            await send_message(rt, message, "detect", "internal_error", f"alert {alert.alert.id} not sent: {exc}")


def _detect(engine: Engine, message: EventMessage, detectors: list[str]) -> list[Alert]:
    """The alerts of one event for `detectors`; an engine bug is counted and logged, not raised."""
    alerts: list[Alert] = []
    for det_id in detectors:
        try:
            alerts += engine.process_keyed(det_id, message.key, message.event)
        except Exception:  # an engine bug must not ack-and-drop silently: count and log it
            log.exception("detection failed for %s on event %s", det_id, message.event.event.id)
            metrics.DETECTOR_ERRORS.labels(rule=det_id if det_id in DETECTORS else "unknown").inc()
    return alerts


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"[:500]
    return str(exc)[:500]
