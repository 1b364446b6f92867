"""Agent: detect topic -> alerts topic, state in a Faust table co-partitioned with the topic.

A message carries a bundle of events with their routes (entity key and the detectors that want the
event for it), or, in the form before bundles, one event (or a clock tick) for one entity key; the
table key is `<detector>|<entity>`, written on the partition of the entity's messages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from detectors.engine import Engine
from detectors.records import EntityRecord
from detectors.registry import DETECTORS
from pipeline import metrics
from pipeline.deadletter import send_all, send_message
from pipeline.kafka.codec import dumps, loads
from pipeline.kafka.send import Direct, Out
from pipeline.kafka.topics import DETECTOR_STATE_TOPIC_CONFIG, partition_of
from pipeline.lifecycle.forget import digest_key, forget_digest, key_id
from pipeline.runtime import build_engine
from schemas.alert import Alert
from schemas.deadletter import ErrorCode
from schemas.detect import DETECT_MESSAGE, EventBundle, EventMessage, TickMessage, tick_message
from schemas.event import Event
from schemas.lifecycle import ForgetFanout

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


class FaustTableStore:
    """StateStore over a Faust table (changelog-backed, recovered on restart and rebalance). The table
    holds each record's stored form, so the changelog is JSON a worker of any version can read.

    Writes of a batch of detect messages are held (`begin` .. `commit`) until the batch's alerts are
    on the broker, one per key (the latest), and each entry records the position (`at`: partition,
    offset) of the message that wrote it last. A worker killed before its offsets were committed
    replays those messages; one an entry already holds is not applied to it again (a sliding window
    would count its event twice, and raise a different alert). The changelog partition of an entry
    is that of its messages (an entity's messages all live on one partition), given explicitly: a
    batch spans partitions, so Faust's "current event" cannot name it."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._held: dict[str, dict[str, Any] | None] = {}
        self._partitions: dict[str, int] = {}
        self._at: list[int] | None = None

    def begin(self, partition: int, offset: int, route: int | None = None) -> None:
        """Writes from here on belong to the message at partition/offset (to its route-th route, for
        a bundle: `at` is then [partition, offset, route], ordered after [partition, offset])."""
        self._at = [partition, offset] if route is None else [partition, offset, route]

    def applied(self, key: str) -> bool:
        """Whether the entry under key already holds the current message (a replay)."""
        doc = self._table.get(key)
        at = None if doc is None else doc.get("at")
        return self._at is not None and at is not None and at[0] == self._at[0] and at[1:] >= self._at[1:]

    def commit(self) -> list[tuple[int, bytes, bytes]]:
        """Write the held entries to the table; their changelog records (partition, key, value: b""
        for a deletion), each in its entry's partition, for the agent to send and await (`flush`)."""
        data = self._table.data
        records: list[tuple[int, bytes, bytes]] = []
        for key, doc in self._held.items():
            partition = self._partitions.get(key)
            if partition is None:  # the agent begins every message: a bug, not a message to lose
                raise RuntimeError(f"detector state {key} was written outside a detect message (no begin)")
            if doc is None:
                data.pop(key, None)
            else:
                data[key] = doc
            # the key's bytes as Faust's json schema writes them (orjson): compaction goes by those bytes
            records.append((partition, orjson.dumps(key), b"" if doc is None else dumps(doc)))
        self._held.clear()
        self._partitions.clear()
        self._at = None
        return records

    async def flush(self, rt: Runtime, records: list[tuple[int, bytes, bytes]]) -> None:
        """Send changelog records and wait until the broker has each (one awaited send per batch)."""
        if records:
            topic = Direct(rt.app, self._table.changelog_topic.get_topic_name())
            await send_all(rt, [Out(topic, "changelog", k, v, partition=p) for p, k, v in records], "detect")

    def get(self, key: str) -> EntityRecord | None:
        doc = self._held[key] if key in self._held else self._table.get(key)
        return None if doc is None else EntityRecord.from_doc(doc)

    def put(self, key: str, value: EntityRecord) -> None:
        doc = value.to_doc()
        self._hold(key, doc if self._at is None else {**doc, "at": self._at})

    def delete(self, key: str) -> None:
        self._hold(key, None)

    def keys(self) -> Iterator[str]:
        held = [k for k, doc in self._held.items() if doc is not None]
        return iter(list(dict.fromkeys([*self._table.keys(), *held])))

    def _hold(self, key: str, doc: dict[str, Any] | None) -> None:
        self._held[key] = doc
        if self._at is not None:
            self._partitions[key] = self._at[0]


MAX_TICK_BACKLOG = 100  # detect messages: a bundle carries one route batch's events of a partition
BATCH = 100  # detect messages per batch (a bundle holds up to MAX_BUNDLE_BYTES of events)
WITHIN = 0.05  # seconds a batch waits to fill: the stage's latency floor at low rates


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
        ticks = [Out(detect_topic, "detect", k.encode(), dumps(tick_message([d], k, now))) for d, k in engine.due(now)]
        await send_all(rt, ticks, "detect")  # one request for all of them; a tick refused for good is dead-lettered

    # A bounded batch at a time: each message's state writes are held (one per key, the latest),
    # then every alert of the batch is sent, in order, and awaited until the broker has it
    # (pipeline.kafka.send), and only then are the writes committed and the batch acked: no offset
    # is committed past an alert or dead letter that was not written.
    alerts_topic = Direct(rt.app, rt.names.alerts)

    @rt.app.agent(rt.topics["detect"], name="secmon.detect", concurrency=1)
    async def detect(stream):
        async for batch in stream.take_events(BATCH, within=WITHIN):
            outs: list[Out] = []
            seen: dict[str, tuple[Any, Event]] = {}
            for item in batch:
                for alert in await _apply(rt, engine, store, item.message, seen):
                    key, value = alert.alert.id.encode(), dumps(alert.to_doc())
                    outs.append(Out(alerts_topic, "alerts", key, value, origin=item.message))
            await send_all(rt, outs, "detect")  # an alert Kafka refuses for good dead-letters its message
            await store.flush(rt, store.commit())  # after the alerts: a crash in between replays the batch whole


async def _apply(
    rt: Runtime, engine: Engine, store: FaustTableStore, msg: Any, seen: dict[str, tuple[Any, Event]]
) -> list[Alert]:
    """Run one detect message through the engine (writes held in the store); its alerts. A
    message that is not one of the topic's is dead-lettered."""
    try:
        message = _decode(msg.value, seen)
    except ValueError as exc:  # not JSON, or not one of the topic's messages (ValidationError)
        log.error("undecodable detect message at %s: %s", msg.tp, type(exc).__name__)
        await send_message(rt, msg, "detect", "invalid_shape", f"not a detect-topic message: {_first_error(exc)}")
        return []
    if isinstance(message, EventBundle):
        alerts: list[Alert] = []
        for route, (index, key, wanted) in enumerate(message.routes):
            store.begin(msg.partition, msg.offset, route)
            alerts += _detect(engine, key, message.events[index], _fresh(store, key, wanted), msg.partition)
        return alerts
    store.begin(msg.partition, msg.offset)
    if isinstance(message, ForgetFanout):
        await _forget(rt, engine, message, msg)
        return []
    detectors = _fresh(store, message.key, message.detectors)
    if isinstance(message, TickMessage):
        return [a for d in detectors for a in engine.tick_keyed(d, message.key, message.tick)]
    return _detect(engine, message.key, message.event, detectors, msg.partition)


def _fresh(store: FaustTableStore, key: str, detectors: list[str]) -> list[str]:
    """The detectors whose entry for `key` does not hold the current message yet (not a replay)."""
    fresh = [d for d in detectors if not store.applied(f"{d}|{key}")]
    if len(fresh) < len(detectors):
        metrics.REPLAYS_SKIPPED.inc(len(detectors) - len(fresh))
    return fresh


def _decode(
    value: bytes, seen: dict[str, tuple[Any, Event]]
) -> EventBundle | EventMessage | TickMessage | ForgetFanout:
    """A detect message. A bundle (what index_events routes) is validated from its JSON at once
    (pydantic's own parser: twice as fast as parsing, then validating the objects). In the form
    before bundles, an event was sent once per entity key, and those messages (other partitions
    of the same topic) often share a batch: each event is validated once per batch,
    reused only for the very same JSON (the engine never changes an event)."""
    if value[:10] == b'{"bundle":':
        return EventBundle.model_validate_json(value)
    doc = loads(value)
    event = doc.get("event") if isinstance(doc, dict) else None
    if _event_id(event) is None:
        return DETECT_MESSAGE.validate_python(doc)
    return DETECT_MESSAGE.validate_python({**doc, "event": _event(event, seen)})


def _event(doc: Any, seen: dict[str, tuple[Any, Event]]) -> Any:
    """The validated Event of an event's JSON: the batch's earlier one for the very same JSON, else
    validated now (an invalid one raises ValidationError); what has no event id is left as it is,
    for the message's validation to refuse."""
    event_id = _event_id(doc)
    if event_id is None:
        return doc
    hit = seen.get(event_id)
    if hit is not None and hit[0] == doc:
        return hit[1]
    event = Event.model_validate(doc)
    seen[event_id] = (doc, event)
    return event


def _event_id(doc: Any) -> str | None:
    meta = doc.get("event") if isinstance(doc, dict) else None
    event_id = meta.get("id") if isinstance(meta, dict) else None
    return event_id if isinstance(event_id, str) else None


def _detect(engine: Engine, key: str, event: Event, detectors: list[str], partition: int) -> list[Alert]:
    """The alerts of one event for `detectors`; an engine bug is counted and logged, not raised.
    `partition`: the detect partition it came from (idle expiry waits for the slowest one)."""
    alerts: list[Alert] = []
    for det_id in detectors:
        try:
            alerts += engine.process_keyed(det_id, key, event, partition)
        except Exception:  # an engine bug must not ack-and-drop silently: count and log it
            log.exception("detection failed for %s on event %s", det_id, event.event.id)
            metrics.DETECTOR_ERRORS.labels(rule=det_id if det_id in DETECTORS else "unknown").inc()
    return alerts


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"[:500]
    return str(exc)[:500]
