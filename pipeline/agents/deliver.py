"""Agents: alerts -> notify topic (keyed by group) -> receivers. Logic lives in pipeline.delivery.

`deliver_route` repartitions each alert by the aggregation groups it joins (bundles of entries,
one partition per group key); `deliver` owns the groups of its partitions in a changelog-backed
table keyed by group key and partitioned like its topic, folds
alerts in, flushes due groups and sends. A timer on the leader sends one tick per partition every
`delivery.tick_seconds`, so waits and retries happen without new alerts. A batch is acked only
after its history records (for the index agent to write: an Elasticsearch outage does not stop
pages), dead letters and delivery_failed alerts are in Kafka and, last, its new group states were
written to the changelog; a notification stays in its group's
outbox until the receiver accepted it or it was dead-lettered, so a crash re-sends rather than loses.
A new notification is written to the changelog before its first attempt, so a crash during that
attempt re-sends the very same notification (same webhook-id), even when the group has grown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import orjson
from pydantic import ValidationError

from pipeline import deadletter, metrics
from pipeline.delivery import history, retry
from pipeline.delivery.outbox import DueIndex, Effects, Item, commit, items_of, route_messages, tick
from pipeline.delivery.routing import RoutingTree
from pipeline.delivery.service import Deliverer
from pipeline.delivery.silences import SilenceCache
from pipeline.kafka.codec import dumps
from pipeline.kafka.send import Changelog, Out
from pipeline.sinks.elasticsearch import client
from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.delivery import GroupState

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 256
WITHIN = 0.02  # seconds a batch waits to fill: the latency floor of each stage at low rates


class TableGroups:
    """GroupStore over a Faust table; each change goes to the changelog partition of its group.

    Writes happen for a whole batch at once, so Faust's "current event" cannot name the
    partition; the group's own partition (that of its messages) is passed explicitly instead.
    `put` and `delete` change the table at once and hold the changelog records; `flush` sends
    them all and waits until the broker has each. Not Faust's `send_changelog`: its buffer
    drains one message at a time, and while it holds more than 100, Faust stops feeding every
    stream of the worker (a batch of 2,000 new groups stalled delivery for seconds).
    """

    def __init__(self, table) -> None:
        self._table = table
        self._held: list[tuple[int, bytes, bytes]] = []
        self._index = DueIndex()

    def get(self, key: str) -> dict[str, Any] | None:
        return self._table.get(key)

    def put(self, key: str, value: GroupState, partition: int) -> None:
        self._table.data[key] = value
        self._index.note(key, value)
        self._held.append((partition, orjson.dumps(key), dumps(cast(dict[str, Any], value))))  # as Faust's json schema

    def delete(self, key: str, partition: int) -> None:
        self._table.data.pop(key, None)
        self._index.note(key, None)
        self._held.append((partition, orjson.dumps(key), b""))  # a tombstone (see Changelog)

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return iter(list(self._groups().items()))

    def due(self, partitions: set[int], now: float) -> list[tuple[str, GroupState]]:
        return self._index.due(self._groups(), partitions, now)

    def _groups(self) -> Mapping[str, dict[str, Any]]:
        store = self._table.data  # Faust's memory store wraps a dict: read that, not its Python-level views
        data = getattr(store, "data", None)
        return data if isinstance(data, dict) else store

    async def flush(self, rt: Runtime) -> None:
        """Send the held changelog records, each to its partition, and wait for the broker."""
        held, self._held = self._held, []
        if held:
            topic = Changelog(rt.app, self._table.changelog_topic.get_topic_name())
            await deadletter.send_all(rt, [Out(topic, "changelog", k, v, p) for p, k, v in held], "deliver")


def register(rt: Runtime) -> None:
    """Define the delivery agents, table and tick timer (nothing when delivery.routes_file is unset)."""
    import faust

    cfg, tree = rt.settings.delivery, rt.routes  # receivers and routes were checked at startup (pipeline.check)
    if tree is None:
        log.info("alert delivery is off (delivery.routes_file is not set)")
        return
    partitions = rt.settings.kafka.partitions
    notify = rt.app.topic(
        rt.names.notify,
        internal=True,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    schema: Any = faust.Schema(key_serializer="json", value_serializer="json")
    table = rt.app.Table("secmon-delivery-groups", default=None, schema=schema, partitions=partitions)
    _register_route(rt, tree, notify, partitions)
    _register_deliver(rt, tree, notify, TableGroups(table))

    @rt.app.timer(interval=cfg.tick_seconds, on_leader=True)
    async def delivery_tick() -> None:
        await deadletter.send_all(rt, [Out(notify, "notify", None, tick(), p) for p in range(partitions)], "deliver")


def _register_route(rt: Runtime, tree: RoutingTree, notify, partitions: int) -> None:
    @rt.app.agent(rt.topics["alerts"], name="secmon.deliver_route", concurrency=1)
    async def deliver_route(stream):
        async for batch in stream.take_events(BATCH, within=WITHIN):
            alerts = []
            for event in batch:
                try:
                    alerts.append(Alert.model_validate_json(event.message.value))
                except ValidationError:
                    continue  # index_alerts dead-letters the same message; counting it twice would lie
            messages = route_messages(tree, alerts, partitions)
            outs = [Out(notify, "notify", None, value, p) for p, value in messages]
            await deadletter.send_all(rt, outs, "deliver")  # acked only once every group entry is in Kafka


def _register_deliver(rt: Runtime, tree: RoutingTree, notify, store: TableGroups) -> None:
    cfg, prefix = rt.settings.delivery, rt.settings.es.index_prefix

    @rt.app.agent(notify, name="secmon.deliver", concurrency=1)
    async def deliver(stream):
        async with retry.session() as session, client(rt.settings.es) as es:
            await _install(es, prefix)
            silences = SilenceCache()

            async def before_send(states, effects: Effects) -> None:  # a new notification: durable before it is sent
                if effects.history:  # first the records those states account for (silenced alerts marked muted)
                    await _write(rt, Effects(history=effects.history))
                    effects.history = []
                commit(store, Effects(states=states))
                await store.flush(rt)

            core = Deliverer(cfg, tree, session, prefix, notify.get_topic_name(), silences, before_send)
            async for batch in stream.take_events(BATCH, within=WITHIN):
                await _refresh(silences, es, prefix, cfg.silence_refresh_seconds)
                items, bad = _decode(batch)
                try:
                    effects = await core.process(items, store, time.time())
                except Exception:  # a bug must not stop delivery silently: count, log, dead-letter
                    metrics.ERRORS.labels(where="delivery_batch").inc()
                    log.exception("delivery failed on a batch of %d messages", len(items))
                    effects = _crashed(batch)
                effects.dead_letters += bad
                await _write(rt, effects)
                commit(store, effects)  # last: the changelog never runs ahead of the records
                await store.flush(rt)


def _decode(batch) -> tuple[list[Item], list[DeadLetter]]:
    items, bad = [], []
    for event in batch:
        msg = event.message
        try:
            items += items_of(msg.partition, msg.value)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("undecodable notify message at %s offset %s: %r", msg.tp, msg.offset, exc)
            bad.append(
                deadletter.of_body(
                    msg.value or b"",
                    "invalid_json",
                    f"undecodable notify message: {exc!r}",
                    time.time(),
                    msg.topic,
                    msg.partition,
                )
            )
    return items, bad


async def _install(es, prefix: str) -> None:
    """Install the history template, retrying while Elasticsearch is unreachable."""
    for attempt in range(1, 1_000_000):
        try:
            await history.install(es, prefix)
            return
        except Exception as exc:  # not fatal: delivery waits for it, with a reason in the log
            metrics.ERRORS.labels(where="delivery_template").inc()
            log.warning(
                "cannot install the notifications template (%s: %s); retry %d in 5s. Check es.url.",
                type(exc).__name__,
                str(exc)[:200],
                attempt,
            )
            await asyncio.sleep(5)


async def _refresh(silences: SilenceCache, es, prefix: str, every: float) -> None:
    if time.time() - silences.loaded_at < every:
        return
    try:
        await silences.refresh(es, prefix)
    except Exception as exc:  # keep applying the silences we have; try again next time
        metrics.ERRORS.labels(where="silences_reload").inc()
        silences.loaded_at = time.time()
        log.warning(
            "could not re-read silences (%s: %s); keeping the %d known ones",
            type(exc).__name__,
            exc,
            len(silences.silences),
        )


def _crashed(batch) -> Effects:
    effects = Effects()
    for event in batch:
        msg = event.message
        effects.dead_letters.append(
            deadletter.of_body(
                msg.value or b"",
                "internal_error",
                "delivery raised an exception (see the worker log)",
                time.time(),
                msg.topic,
                msg.partition,
            )
        )
    return effects


async def _write(rt: Runtime, effects: Effects) -> None:
    """History records, dead letters and delivery_failed alerts to Kafka; all awaited."""
    outs = [Out(rt.topics["history"], "history", None, m) for m in history.messages(effects.history)]
    outs += [deadletter.out(rt, d) for d in effects.dead_letters]
    for alert in effects.alerts:
        metrics.ALERTS.labels(
            rule=alert.rule.id, severity=alert.alert.severity, change="new" if alert.alert.count == 1 else "update"
        ).inc()
        outs.append(Out(rt.topics["alerts"], "alerts", alert.alert.id.encode(), dumps(alert.to_doc())))
    await deadletter.send_all(rt, outs, "deliver")
