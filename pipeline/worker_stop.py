"""A worker's stop (SIGTERM) and a rebalance's revocation: wait for what the agents hold, bounded.

Faust stops a worker (and revokes partitions) in this order: stop the flow, empty every agent's
inbound queue, stop the fetcher, then `consumer.wait_empty()`, which waits, with no time limit, until
every message delivered to a stream is acked, and only then commits and goes on. Two things make it
wait forever (issue 19):

- A message goes to every agent reading its topic (any topic two agents read) and is
  acked only once each of them acked it. Emptying the queues drops the copies not yet taken, but the
  message stays in the consumer's unacked set as long as anything references it, and the agent that
  did process it holds it in its last batch (a local of its loop): it is never acked, and
  `wait_empty` waits for it until the worker is SIGKILLed.
- An agent that cannot finish its batch (a sink that keeps failing) is waited for just as long.

So a dropped message is taken out of the unacked set when its queue is emptied (`ReleaseDropped`),
or, when another agent holds it in its batch, once that agent acked it: it is abandoned, not acked,
so no commit goes past it and the next owner reads it again. And the wait is bounded (`WorkerApp`,
STOP_GRACE): what the agents still hold after that is abandoned the same way. The final commit
covers only acked offsets (Faust commits up to the first offset not acked), so nothing is lost; what
was abandoned is redone by the next worker, and the deterministic document ids keep that from
doubling anything.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections import Counter
from typing import Any

import faust

from pipeline.flow_control import KeepQueuedOnResume

STOP_GRACE = 15.0  # s a stop or revocation waits for the agents' batches in hand (index's own is 10 s)
log = logging.getLogger(__name__)


class ReleaseDropped(KeepQueuedOnResume):
    """Flow control whose `clear()` also abandons the messages of the events it drops: nothing will
    ever ack them, so the consumer no longer waits for them (they stay uncommitted).

    A message read by several agents (any topic two agents read) may be dropped from
    one queue while another agent holds it in its batch: it is abandoned only once no agent holds
    it (its refcount, one per copy not yet acked, is down to its dropped copies, `release`)."""

    def __init__(self, app: faust.App) -> None:
        super().__init__()
        self._app = app
        self._dropped: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    def clear(self) -> None:
        dropped = Counter(
            message
            for queue in list(self._queues)
            for event in _queued(queue)
            if (message := getattr(event, "message", None)) is not None
        )
        super().clear()
        for message, copies in dropped.items():
            self._dropped[message] = self._dropped.get(message, 0) + copies
        self.release()

    def release(self) -> None:
        """Abandon the dropped messages no agent holds any more."""
        consumer: Any = self._app.consumer
        unacked = consumer._unacked_messages
        for message, copies in list(self._dropped.items()):
            if message.refcount <= copies:
                unacked.discard(message)
                del self._dropped[message]


def _queued(queue: Any) -> list[Any]:
    """The events waiting in a Faust channel queue (an asyncio.Queue: its deque)."""
    return list(queue._queue)


class WorkerApp(faust.App):
    """The Faust app, with a bounded wait for the agents' batches when it stops or loses partitions."""

    stop_grace: float = STOP_GRACE

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        if self.conf.stream_wait_empty:
            logger.info("Wait for streams...")
            flow = self.flow_control
            await wait_in_hand(consumer, self.stop_grace, flow if isinstance(flow, ReleaseDropped) else None)


async def wait_in_hand(consumer: Any, grace: float, flow: ReleaseDropped | None = None) -> None:
    """Wait until every message an agent holds is acked, at most `grace` s; then commit what was acked.
    `flow`: the app's flow control, which abandons dropped messages once no agent holds them.

    Faust's `wait_empty` without its unbounded loop: what is still unacked after `grace` is left
    uncommitted (the commit stops at the first offset not acked) and read again by the next owner.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while not consumer.should_stop and consumer._unacked_messages:
        if flow is not None:
            flow.release()
            if not consumer._unacked_messages:
                break
        left = deadline - loop.time()
        if left <= 0:
            held = sorted({(m.topic, m.partition) for m in consumer._unacked_messages})
            log.warning(
                "stopping with %d messages still being processed after %.0f s (%s): left uncommitted, "
                "the next worker reads them again",
                len(consumer._unacked_messages),
                grace,
                ", ".join(f"{t}[{p}]" for t, p in held[:10]),
            )
            break
        await consumer.commit()  # what was acked so far: a bounded stop loses as little work as possible
        await consumer._wait_for_ack(timeout=min(1.0, left))
        consumer._clean_unacked_messages()
        gc.collect()  # a message nothing references any more leaves the (weak) unacked set
    await consumer.commit_and_end_transactions()


def install(app: faust.App) -> None:
    """Give `app` the releasing flow control; call before any agent or stream exists (they register
    their queues with `app.flow_control` when they are created)."""
    app.flow_control = ReleaseDropped(app)
