"""Follow the compacted context topics into a ContextStore: read them whole first, then live.

Used by the worker (every worker needs ALL context rows: see pipeline/agents/context.py for why a
group-less consumer) and by `secmon purge` (which reads the rows to find a workspace's). The logic
(validating and applying a row) lives in `ContextStore.apply_message`; this module is transport.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline import metrics
from pipeline.context.loader import ContextError
from pipeline.context.store import ContextStore
from pipeline.kafka.config import aiokafka_kwargs

if TYPE_CHECKING:
    from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)
CATCH_UP_SECONDS = 120.0


class ContextFollower:
    """One group-less consumer over every context topic, applying each message to the store."""

    def __init__(
        self,
        store: ContextStore,
        topics: Mapping[str, str],
        kafka: KafkaSettings,
        on_bad: Callable[[Any, ContextError], None],
        on_applied: Callable[[], None] = lambda: None,
    ):
        self.store, self.topics, self.kafka, self.on_bad, self.on_applied = store, topics, kafka, on_bad, on_applied
        self.consumer: Any = None  # an AIOKafkaConsumer once started (aiokafka ships no type hints)

    async def start(self) -> bool:
        """Read every context topic to the end offsets it has now (bounded by CATCH_UP_SECONDS); whether
        it got there."""
        from aiokafka import AIOKafkaConsumer

        self.consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="secmon-context",
            **aiokafka_kwargs(self.kafka),
        )
        await self.consumer.start()
        existing = await self.consumer.topics()
        # subscribing to a missing topic lets a broker auto-create it, uncompacted: read only existing ones
        present = [t for t in self.topics if t in existing]
        if len(present) < len(self.topics):
            log.warning(
                "context topics %s do not exist; run `secmon topics` (it creates them compacted) and restart",
                sorted(set(self.topics) - set(present)),
            )
        if not present:
            return True
        started, deadline = time.monotonic(), time.monotonic() + CATCH_UP_SECONDS
        self.consumer.subscribe(present)  # with no group: every partition of every topic, from the beginning
        while not self.consumer.assignment() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        tps = sorted(self.consumer.assignment())
        end = await self.consumer.end_offsets(tps)
        complete = False
        while time.monotonic() < deadline:
            behind = [tp for tp in tps if await self.consumer.position(tp) < end[tp]]
            if not behind:
                complete = True
                break
            self.apply(await self.consumer.getmany(*behind, timeout_ms=500), quiet=True)
        else:
            log.warning("context topics not read to the end within %.0fs; following them from here", CATCH_UP_SECONDS)
        log.info(
            "context from topics in %.1fs: %s rows, version %s",
            time.monotonic() - started,
            self.store.counts(),
            self.store.version,
        )
        return complete

    async def follow(self) -> None:
        """Apply new messages as they arrive, until cancelled; broker errors are logged and retried."""
        while self.consumer is not None:
            try:
                self.apply(await self.consumer.getmany(timeout_ms=1000))
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup must not end live updates for the life of the worker
                metrics.ERRORS.labels(where="context_follow").inc()
                log.exception("reading the context topics failed; retrying in 1s")
                await asyncio.sleep(1.0)

    def apply(self, batch: dict, quiet: bool = False) -> None:
        """Apply a getmany() batch; a bad message goes to `on_bad`, the others still apply.

        The log line counts changes per table: row ids name people (users) and must not be logged.
        """
        changes: Counter = Counter()
        for records in batch.values():
            for record in records:
                table = self.topics[record.topic]
                try:
                    changes[(table, self.store.apply_message(table, record.key, record.value))] += 1
                except ContextError as exc:
                    self.on_bad(record, exc)
        if changes and not quiet:
            log.info(
                "context update: %s (version %s)",
                ", ".join(f"{t} {c} {n}" for (t, c), n in sorted(changes.items())),
                self.store.version,
            )
        if batch:
            self.on_applied()

    async def stop(self) -> None:
        """Close the consumer."""
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            await consumer.stop()
