"""Worker: follow the compacted context topics into this worker's ContextStore (live, no restart).

Why a per-worker consumer and not a Faust agent or GlobalTable: every worker enriches events of
every user, host and workspace, so each needs ALL context rows. An agent is a consumer-group
member and would see only its share of the partitions. A GlobalTable gives each worker every
partition, but faust's GlobalTable does not reliably apply rows written to its topic by an
outside producer when several workers run (faust-streaming#283, robinhood/faust#541, #716), and
its rows would still have to be copied into the store's lookup indexes. So each worker runs one
plain aiokafka consumer with no group: it reads every context topic from the beginning, and only
then lets Faust start its consumer and agents (the catch-up service is the app's first
dependency), so no event is enriched with half-loaded context after a restart; then a task
follows the topics for updates. The logic (validating and applying a row) lives in
`ContextStore.apply_message`; this module is transport only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mode import Service

from pipeline import metrics
from pipeline.agents.codec import dumps
from pipeline.context.loader import ContextError
from pipeline.context.models import TABLES
from pipeline.context.store import ContextStore
from pipeline.enrichers import context as context_enricher
from schemas.deadletter import DeadLetter
from schemas.event import Origin

if TYPE_CHECKING:
    from pipeline.app import Runtime
    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)
CATCH_UP_SECONDS = 120.0


def aiokafka_kwargs(cfg: KafkaSettings) -> dict[str, Any]:
    """Connection options for an aiokafka client (TLS, SASL) from the Kafka settings."""
    kwargs: dict[str, Any] = {"bootstrap_servers": cfg.bootstrap, "security_protocol": cfg.security_protocol}
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        kwargs["ssl_context"] = create_ssl_context(
            cafile=str(cfg.ssl_cafile) if cfg.ssl_cafile else None,
            certfile=str(cfg.ssl_certfile) if cfg.ssl_certfile else None,
            keyfile=str(cfg.ssl_keyfile) if cfg.ssl_keyfile else None)
    if cfg.security_protocol.startswith("SASL"):
        kwargs.update(sasl_mechanism=cfg.sasl_mechanism or "SCRAM-SHA-512", sasl_plain_username=cfg.sasl_username,
                      sasl_plain_password=cfg.sasl_password.get_secret_value() if cfg.sasl_password else None)
    return kwargs


class ContextFollower:
    """One group-less consumer over every context topic, applying each message to the store."""

    def __init__(self, store: ContextStore, topics: dict[str, str], kafka: KafkaSettings,
                 on_bad: Callable[[Any, ContextError], None], on_applied: Callable[[], None] = lambda: None):
        self.store, self.topics, self.kafka, self.on_bad, self.on_applied = store, topics, kafka, on_bad, on_applied
        self.consumer = None

    async def start(self) -> None:
        """Read every context topic to the end offsets it has now (bounded by CATCH_UP_SECONDS)."""
        from aiokafka import AIOKafkaConsumer

        self.consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                         client_id="secmon-context", **aiokafka_kwargs(self.kafka))
        await self.consumer.start()
        existing = await self.consumer.topics()
        # subscribing to a missing topic lets a broker auto-create it, uncompacted: read only existing ones
        present = [t for t in self.topics if t in existing]
        if len(present) < len(self.topics):
            log.warning("context topics %s do not exist; run `secmon topics` (it creates them compacted) and "
                        "restart", sorted(set(self.topics) - set(present)))
        if not present:
            return
        started, deadline = time.monotonic(), time.monotonic() + CATCH_UP_SECONDS
        self.consumer.subscribe(present)  # with no group: every partition of every topic, from the beginning
        while not self.consumer.assignment() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        tps = sorted(self.consumer.assignment())
        end = await self.consumer.end_offsets(tps)
        while time.monotonic() < deadline:
            behind = [tp for tp in tps if await self.consumer.position(tp) < end[tp]]
            if not behind:
                break
            self.apply(await self.consumer.getmany(*behind, timeout_ms=500), quiet=True)
        else:
            log.warning("context topics not read to the end within %.0fs; following them from here", CATCH_UP_SECONDS)
        log.info("context from topics in %.1fs: %s rows, version %s", time.monotonic() - started,
                 self.store.counts(), self.store.version)

    async def follow(self) -> None:
        """Apply new messages as they arrive, until cancelled; broker errors are logged and retried."""
        while self.consumer is not None:
            try:
                self.apply(await self.consumer.getmany(timeout_ms=1000))
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup must not end live updates for the life of the worker
                log.exception("reading the context topics failed; retrying in 1s")
                await asyncio.sleep(1.0)

    def apply(self, batch: dict, quiet: bool = False) -> None:
        """Apply a getmany() batch; a bad message goes to `on_bad`, the others still apply."""
        for records in batch.values():
            for record in records:
                table = self.topics[record.topic]
                try:
                    change = self.store.apply_message(table, record.key, record.value)
                except ContextError as exc:
                    self.on_bad(record, exc)
                    continue
                if not quiet:
                    log.info("context update: %s %s %s (version %s)", table, change,
                             (record.key or b"").decode("utf-8", "replace"), self.store.version)
        if batch:
            self.on_applied()

    async def stop(self) -> None:
        """Close the consumer."""
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            await consumer.stop()


class ContextCatchUp(Service):
    """Started before the Faust consumer and agents: they wait until the context topics were read."""

    def __init__(self, follower: ContextFollower, **kwargs: Any):
        super().__init__(**kwargs)
        self.follower = follower

    async def on_start(self) -> None:
        """Read the context topics to their end."""
        await self.follower.start()

    async def on_stop(self) -> None:
        """Close the context consumer."""
        await self.follower.stop()


def register(rt: Runtime) -> None:
    """Give the worker a context store fed by the topics (and files), and follow the topics."""
    enricher = context_enricher.find(rt.enrichers)
    if enricher is None:  # no enrich.context_dir: the topics are the only source
        enricher = context_enricher.build(rt.settings.enrich, ContextStore())
    pending: list[DeadLetter] = []

    def on_applied() -> None:
        """Add the enricher to the worker's enrichers once the topics gave the store a table."""
        # joins the enrichers with the first topic row, so a worker without context stamps events like
        # the embedded runner does (no `context@none` on every event)
        if enricher.store.any_loaded() and all(e is not enricher for e in rt.enrichers):
            rt.enrichers.append(enricher)

    def on_bad(record: Any, exc: ContextError) -> None:
        """Log, count and queue a dead letter for a message that is not a valid row."""
        log.error("bad context message at %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
        metrics.DEAD_LETTERS.labels(stage="enrich", error_code="invalid_field").inc()
        origin = Origin(source="context", topic=record.topic, partition=record.partition, kafka_offset=record.offset)
        pending.append(DeadLetter(timestamp=datetime.now(timezone.utc), stage="enrich", error_code="invalid_field",
                                  reason=str(exc)[:2000], origin=origin,
                                  original_b64=DeadLetter.encode_original(record.value or b""),
                                  original_size=len(record.value or b"")))

    topics = {rt.names.context(table): table for table in TABLES}
    follower = ContextFollower(enricher.store, topics, rt.settings.kafka, on_bad, on_applied)
    rt.app.add_dependency(ContextCatchUp(follower))

    @rt.app.task
    async def follow_context() -> None:
        """Follow the context topics and send queued dead letters, for the life of the worker."""
        follow = asyncio.ensure_future(follower.follow())
        try:
            while not follow.done():  # dead letters are sent from here: the producer runs by now
                while pending:
                    letter = pending.pop(0)
                    await rt.topics["deadletter"].send(key=b"context", value=dumps(letter.to_doc()))
                await asyncio.sleep(1.0)
        finally:
            follow.cancel()
