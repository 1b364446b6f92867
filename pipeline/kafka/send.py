"""One Kafka send for agents: awaited until the broker acknowledges it, retried while the broker is away.

Faust commits a source offset after `producer.flush()`, which waits for the sends in flight but
does not look at how they ended: an output whose send failed during a broker outage would be
committed past, and lost. An agent that awaits `deliver` for every output of a message before it
takes the next one lets that message's offset be committed only once its outputs are on the broker.
Retriable failures (connection lost, leader moving, a request or batch timing out) are retried with
a capped backoff until the broker is back; anything else raises `SendFailed` for the agent to
dead-letter, count and go past. `deliver_many` does the same for a batch: every send is queued
before any is awaited (the producer batches them), then the failed ones are sent again, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipeline import metrics

log = logging.getLogger(__name__)

# the topic kinds an agent sends to through `deliver` (a bounded metric label)
Output = Literal["alerts", "changelog", "detect", "deadletter", "events", "history", "notify"]
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class SendFailed(Exception):
    """The broker refused a send for a reason a retry does not fix (too large, not authorized)."""


@dataclass(frozen=True)
class Out:
    """One record for `deliver_many`: the Faust topic, its kind (a metric label), key, value, and
    the message it came from (to dead-letter if the broker refuses the record for good)."""

    topic: Any
    output: Output
    key: bytes | None
    value: bytes
    partition: int | None = None
    origin: Any = None


class Direct:
    """A topic as an `Out` target: bytes straight to the producer, b"" as a tombstone.

    For a table's changelog, not the table's `send_changelog`: that queues into Faust's producer
    buffer, which drains one message at a time and, while it holds more than 100, stops feeding
    every stream. For the hot topics (events, detect, alerts), not Faust's `Topic.send`: per record
    it adds a FutureMessage, callbacks and sensor calls around the same producer send."""

    def __init__(self, app: Any, name: str) -> None:
        self._app, self._name = app, name

    async def send(self, *, key: bytes | None, value: bytes, partition: int | None) -> Any:
        return await self._app.producer.send(self._name, key, value or None, partition, None, None)


Changelog = Direct  # the name the tables' writers (detect, deliver) knew it by


def retriable(exc: BaseException) -> bool:
    """Whether a failed send can succeed later. Faust wraps the client's error (`ProducerSendError`
    raised from it); aiokafka marks transient errors `retriable`, and a timeout means the broker was
    not reachable in time (aiokafka marks `KafkaTimeoutError` not retriable: for a send it is)."""
    cause = exc.__cause__ if type(exc).__name__ == "ProducerSendError" and exc.__cause__ else exc
    if isinstance(cause, (asyncio.TimeoutError, ConnectionError)):
        return True
    return type(cause).__name__ == "KafkaTimeoutError" or bool(getattr(cause, "retriable", False))


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (1-based), capped."""
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]


async def deliver(topic: Any, output: Output, *, key: bytes | None, value: bytes, partition: int | None = None) -> None:
    """Send `value` to `topic` (a Faust topic) and wait for the broker's acknowledgement, retrying
    retriable failures for as long as they last. Raises SendFailed otherwise."""
    refused = await deliver_many([Out(topic, output, key, value, partition)])
    if refused:
        raise refused[0][1]


async def deliver_many(outs: Sequence[Out]) -> list[tuple[Out, SendFailed]]:
    """Send every record and wait until the broker has each one, retrying the retriable failures
    (all of them again, in their order) for as long as they last; the records refused for good,
    each with its reason, for the caller to dead-letter. Nothing returns before every record is
    either acknowledged or refused."""
    refused: list[tuple[Out, SendFailed]] = []
    pending, attempt = list(outs), 0
    while pending:
        retry, why = [], ""
        for out, result in zip(pending, await _attempt(pending), strict=True):
            if result is None:
                continue
            if retriable(result):
                retry.append(out)
                why = why or type(result.__cause__ or result).__name__
                metrics.KAFKA_SEND_RETRIES.labels(output=out.output).inc()
            else:
                refused.append((out, _refused(out.output, result)))
        if retry:
            attempt += 1
            wait = backoff(attempt)
            log.warning("%d Kafka sends failed (%s), retry %d in %.1f s", len(retry), why, attempt, wait)
            await asyncio.sleep(wait)
        pending = retry
    return refused


async def _attempt(outs: list[Out]) -> list[Exception | None]:
    """Queue every record in order (the producer batches them), then wait for every
    acknowledgement; per record, None or the exception it failed with."""
    queued: list[Any] = []
    for out in outs:
        try:  # queuing itself can fail (no metadata, or no room for the broker's whole timeout)
            queued.append(await out.topic.send(key=out.key, value=out.value, partition=out.partition))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            queued.append(exc)
            if retriable(exc):  # the broker is away: the rest would each wait as long, and fail too
                queued += [exc] * (len(outs) - len(queued))
                break
    futures = [q for q in queued if not isinstance(q, Exception)]
    acked = iter(await asyncio.gather(*futures, return_exceptions=True))
    results: list[Exception | None] = []
    for q in queued:
        result = q if isinstance(q, Exception) else next(acked)
        if isinstance(result, asyncio.CancelledError):
            raise result
        results.append(result if isinstance(result, Exception) else None)
    return results


def _refused(output: Output, exc: BaseException) -> SendFailed:
    failed = SendFailed(f"Kafka refused a message for the {output} topic: {type(exc).__name__}: {exc}")
    failed.__cause__ = exc
    return failed
