"""Agents: events, alerts, notification history and dead letters -> Elasticsearch. Acked only after the write succeeded.

The events topic is read by one agent, once: each batch is validated, written to Elasticsearch
(the documents as the messages carry them, not encoded again), then routed to the detect topic
(pipeline.agents.route), and acked only after both the write and every detect record were
acknowledged. Elasticsearch before the routes: a batch the worker could not write (it exits
without committing it) has sent nothing to the detectors, so its re-read does not feed them twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from pipeline import deadletter, metrics
from pipeline.agents.route import Router
from pipeline.deadletter import send_all
from pipeline.delivery import history
from pipeline.kafka.codec import dumps
from pipeline.normalizers.base import RawRecord
from pipeline.sinks.elasticsearch import BulkSink, client
from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.delivery import HistoryBundle
from schemas.event import Event, Origin

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

BATCH = 1000
STOP_GRACE = 10.0  # seconds a stopping worker still gives a failing write
EXIT_UNWRITTEN = 75  # EX_TEMPFAIL: stopped with a batch not yet in Elasticsearch (nothing lost)
log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    """Define the indexing agents on the app: events and dead letters are created, alerts versioned."""
    _events_agent(rt)
    _index_agent(rt, "alerts", "secmon.index_alerts", Alert, BulkSink.alert_actions, "alert")
    _index_agent(rt, "history", "secmon.index_history", HistoryBundle, _history_actions, "notification")
    _index_agent(rt, "deadletter", "secmon.index_deadletters", DeadLetter, BulkSink.deadletter_actions, "deadletter")


def _index_agent(rt: Runtime, topic: str, name: str, model: type[BaseModel], actions, kind: str) -> None:
    """One agent: batches of a topic -> bulk writes, acked only after Elasticsearch took them."""

    @rt.app.agent(rt.topics[topic], name=name, concurrency=1)
    async def index(stream):
        async with client(rt.settings.es) as es:
            sink = BulkSink(es, rt.settings.es)
            async for batch in stream.take_events(BATCH, within=0.5):
                with _held(batch):
                    docs = await _decode(rt, [item.message for item in batch], model, kind)
                    await _write_or_exit(rt, _write(rt, sink, actions(sink, docs), kind), len(batch))


def _events_agent(rt: Runtime) -> None:
    """The events topic: batches -> a bulk write, then their detect records; acked after both."""
    router = Router(rt)

    @rt.app.agent(rt.topics["events"], name="secmon.index_events", concurrency=1)
    async def index_events(stream):
        async with client(rt.settings.es) as es:
            sink = BulkSink(es, rt.settings.es)
            async for batch in stream.take_events(BATCH, within=0.5):
                with _held(batch):
                    events = await _decode_events(rt, [item.message for item in batch])
                    write = _write(rt, sink, sink.encoded_event_actions((e, raw) for _, raw, e in events), "event")
                    await _write_or_exit(rt, write, len(batch))
                    await send_all(rt, router.outs(events), "detect")  # acked once Kafka has every route


async def _decode_events(rt: Runtime, messages) -> list[tuple[object, bytes, Event]]:
    """(message, its JSON, the event) of each message; one that is not an event is dead-lettered."""
    out = []
    for msg in messages:
        try:  # pydantic's JSON parser, twice as fast as via dicts
            event = Event.model_validate_json(msg.value)
        except ValidationError as exc:
            await _dead_letter(rt, deadletter.of_message(msg, "index", "invalid_shape", str(exc)), "event")
            continue
        out.append((msg, msg.value.strip(b" \t\r\n"), event))
    return out


def _history_actions(sink: BulkSink, bundles: list[HistoryBundle]) -> list[dict]:
    return history.entry_actions(bundles)


async def _write_or_exit(rt: Runtime, write, size: int) -> None:
    """Await a write; if the worker is asked to stop while the write keeps failing, exit without a commit.

    Faust's graceful stop first waits for every in-flight message to be acked, and a batch is acked
    only once Elasticsearch took it: with Elasticsearch down, a stop would wait forever, and a
    forced one would ack the batch. After STOP_GRACE the process exits at once instead, committing
    nothing more (as after SIGKILL): the batch is read again at the next start.
    """
    task = asyncio.ensure_future(write)
    stop_seen = None
    while True:
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if done:
            return task.result()
        if rt.app.should_stop:
            stop_seen = stop_seen or time.monotonic()
            if time.monotonic() - stop_seen > STOP_GRACE:
                log.error(
                    "asked to stop while %d documents cannot be written to Elasticsearch: exiting without "
                    "committing them; they are read again at the next start",
                    size,
                )
                logging.shutdown()
                os._exit(EXIT_UNWRITTEN)


@contextmanager
def _held(batch) -> Iterator[None]:
    """Keep the batch's offsets uncommitted unless its write finished.

    take_events acks a batch in a `finally`, also when the worker stops while the write is still
    retrying (Elasticsearch down): those offsets would be committed and the batch lost. One extra
    reference per message, released only when the body did not end by cancellation, makes that
    ack a no-op; the messages are read again after the restart (deterministic ids: no duplicates).
    """
    for item in batch:
        item.message.incref()
    try:
        yield
    except asyncio.CancelledError:
        log.warning(
            "stopped while writing a batch of %d: left uncommitted, it is read again at the next start", len(batch)
        )
        raise
    except BaseException:
        _release(batch)
        raise
    _release(batch)


def _release(batch) -> None:
    for item in batch:
        item.message.decref()


async def _decode(rt: Runtime, messages, model: type[BaseModel], kind: str) -> list:
    """Parse each message; one that does not match the schema is dead-lettered, not retried forever."""
    out = []
    for msg in messages:
        try:
            out.append(model.model_validate_json(msg.value))
        except ValidationError as exc:
            await _dead_letter(rt, deadletter.of_message(msg, "index", "invalid_shape", str(exc)), kind)
    return out


async def _write(rt: Runtime, sink: BulkSink, actions: list[dict], kind: str) -> None:
    if not actions:
        return
    started = time.perf_counter()
    report = await sink.write(actions, kind)
    metrics.ES_BULK_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)
    metrics.EVENTS_OUT.labels(stage="index", source=kind).inc(report.created + report.duplicates)
    for action, reason in report.rejected:
        source = action["_source"]
        record = RawRecord(
            data=source if isinstance(source, bytes) else dumps(source),
            origin=Origin(source="internal", file=action["_index"], file_id=action["_id"], offset=0),
        )
        await _dead_letter(rt, deadletter.of_record(record, "index", "mapping_rejected", reason), kind)


async def _dead_letter(rt: Runtime, dead: DeadLetter, kind: str) -> None:
    if kind == "deadletter":  # never back onto the topic it came from: that would loop
        deadletter.counted(dead)
        log.error("a dead letter could not be indexed (%s): it stays on the dead-letter topic only", dead.reason[:200])
        return
    await deadletter.send(rt, dead)  # acknowledged before the batch is committed
