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
follows the topics for updates (`pipeline.context.follower`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from mode import Service

from pipeline import deadletter
from pipeline.context.follower import ContextFollower
from pipeline.context.loader import ContextError
from pipeline.context.models import TABLES
from pipeline.context.store import ContextStore
from pipeline.enrichers import context as context_enricher
from schemas.deadletter import DeadLetter

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


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
    if enricher is None:
        raise RuntimeError("the context enricher was not built over a given store")  # build() always builds one
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
        pending.append(deadletter.of_message(record, "enrich", "invalid_field", str(exc), source="context"))

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
                    await deadletter.send(rt, pending.pop(0), key=b"context")
                await asyncio.sleep(1.0)
        finally:
            follow.cancel()
