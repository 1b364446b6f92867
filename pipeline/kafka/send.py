"""One Kafka send for agents: awaited until the broker acknowledges it, retried while the broker is away.

Faust commits a source offset after `producer.flush()`, which waits for the sends in flight but
does not look at how they ended: an output whose send failed during a broker outage would be
committed past, and lost. An agent that awaits `deliver` for every output of a message before it
takes the next one lets that message's offset be committed only once its outputs are on the broker.
Retriable failures (connection lost, leader moving, a request or batch timing out) are retried with
a capped backoff until the broker is back; anything else raises `SendFailed` for the agent to
dead-letter, count and go past.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from pipeline import metrics

log = logging.getLogger(__name__)

# the topic kinds an agent sends to through `deliver` (a bounded metric label)
Output = Literal["alerts", "detect", "deadletter"]
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class SendFailed(Exception):
    """The broker refused a send for a reason a retry does not fix (too large, not authorized)."""


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


async def deliver(topic: Any, output: Output, *, key: bytes | None, value: bytes, partition: int | None = None) -> Any:
    """Send `value` to `topic` (a Faust topic) and wait for the broker's acknowledgement, retrying
    retriable failures for as long as they last; the record metadata. Raises SendFailed otherwise."""
    attempt = 0
    while True:
        try:
            return await (await topic.send(key=key, value=value, partition=partition))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not retriable(exc):
                raise SendFailed(
                    f"Kafka refused a message for the {output} topic: {type(exc).__name__}: {exc}"
                ) from exc
            attempt += 1
            metrics.KAFKA_SEND_RETRIES.labels(output=output).inc()
            wait = backoff(attempt)
            log.warning(
                "send to the %s topic failed (%s), retry %d in %.1f s", output, type(exc).__name__, attempt, wait
            )
            await asyncio.sleep(wait)
