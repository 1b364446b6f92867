"""Dead letters: every record secmon gives up on is built, counted and sent here, with its reason.

Build: `of_record` (raw input: normalize, enrich, ship, index), `of_message` (a message of one of
secmon's own topics), `of_body` (delivery: a notification or history record). Count: `counted`,
once per letter, by its own stage and error code, so the metric and the record always agree.
Send: `send` (the worker: counted, then produced to the dead-letter topic) or `encode` for a
producer of its own (the shipper). The embedded runner writes letters to a file and counts them
in its summary instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pipeline import metrics
from pipeline.kafka.codec import dumps
from pipeline.kafka.send import Out, SendFailed, deliver, deliver_many
from pipeline.normalizers.base import RawRecord
from schemas.deadletter import DeadLetter, ErrorCode, Stage
from schemas.event import Origin

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def letter(
    data: bytes,
    origin: Origin,
    stage: Stage,
    code: ErrorCode,
    reason: str,
    *,
    size: int | None = None,
    at: datetime | None = None,
) -> DeadLetter:
    """A dead letter keeping `data` (bounded) and where it came from (`size`: before any truncation)."""
    return DeadLetter(
        timestamp=at or datetime.now(timezone.utc),
        stage=stage,
        error_code=code,
        reason=reason[:2000],
        origin=origin,
        original_b64=DeadLetter.encode_original(data),
        original_size=len(data) if size is None else size,
    )


def of_record(record: RawRecord, stage: Stage, code: ErrorCode, reason: str, size: int | None = None) -> DeadLetter:
    """The dead letter of raw input that could not go on."""
    return letter(record.data, record.origin, stage, code, reason, size=size)


def of_message(message: Any, stage: Stage, code: ErrorCode, reason: str, source: str = "internal") -> DeadLetter:
    """The dead letter of a Kafka message of secmon's own topics: its origin is its position."""
    origin = Origin(source=source, topic=message.topic, partition=message.partition, kafka_offset=message.offset)
    return letter(message.value or b"", origin, stage, code, reason)


def of_body(
    body: bytes, code: ErrorCode, reason: str, now: float, topic: str | None = None, partition: int | None = None
) -> DeadLetter:
    """A delivery dead letter keeping `body` (a notification given up on, or a history record that
    could not be written; `now`: the delivery clock)."""
    return letter(
        body,
        Origin(source="internal", topic=topic, partition=partition),
        "deliver",
        code,
        reason,
        at=datetime.fromtimestamp(now, tz=timezone.utc),
    )


def counted(dead: DeadLetter) -> DeadLetter:
    """Count the letter (secmon_dead_letters_total by its stage and error code); the letter."""
    metrics.DEAD_LETTERS.labels(stage=dead.stage, error_code=dead.error_code).inc()
    return dead


def encode(dead: DeadLetter) -> bytes:
    """The letter as the dead-letter topic holds it."""
    return dumps(dead.to_doc())


def out(rt: Runtime, dead: DeadLetter, key: bytes | None = None, origin: Any = None) -> Out:
    """Count the letter; the dead-letter topic record of it, for `send_all` with an agent's other outputs."""
    return Out(rt.topics["deadletter"], "deadletter", key, encode(counted(dead)), origin=origin)


async def send(rt: Runtime, dead: DeadLetter, key: bytes | None = None) -> None:
    """Count the letter and wait until the broker has it (retried while the broker is away)."""
    await _post(rt, counted(dead), f"a {dead.stage} record", key)


async def send_message(rt: Runtime, message: Any, stage: Stage, code: ErrorCode, reason: str) -> None:
    """Dead-letter a Kafka message an agent gives up on, and wait until the broker has the letter
    (retried while the broker is away), so the message is never committed past without it."""
    where = f"{message.topic}[{message.partition}]@{message.offset}"
    await _post(rt, counted(of_message(message, stage, code, reason)), where)


async def send_all(rt: Runtime, outs: Sequence[Out], stage: Stage) -> None:
    """Send an agent's outputs and wait until the broker has each (pipeline.kafka.send). One it
    refuses for good is dead-lettered with the reason: the message it came from (`origin`), else
    the record itself; a dead letter it refuses is counted and logged (nowhere left to put it)."""
    for out, exc in await deliver_many(outs):
        log.error("%s output to the %s topic not sent: %s", stage, out.output, exc)
        if out.output == "deadletter":
            metrics.ERRORS.labels(where="deadletter_send").inc()
        elif out.origin is not None:
            await send_message(rt, out.origin, stage, "internal_error", str(exc))
        else:
            dead = letter(out.value, Origin(source="internal"), stage, "internal_error", str(exc))
            await _post(rt, counted(dead), f"a record for the {out.output} topic")


async def _post(rt: Runtime, dead: DeadLetter, where: str, key: bytes | None = None) -> None:
    try:
        await deliver(rt.topics["deadletter"], "deadletter", key=key, value=encode(dead))
    except SendFailed:  # nowhere left to put it: say so where an operator looks
        metrics.ERRORS.labels(where="deadletter_send").inc()
        log.exception("dead letter of %s not sent", where)
