"""Dead letters of the worker: a Kafka message an agent gives up on goes to the dead-letter topic
with the reason, and is counted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline import metrics
from pipeline.kafka.codec import dumps, internal_record
from pipeline.process import dead_letter
from schemas.deadletter import ErrorCode, Stage

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


async def dead_letter_message(rt: Runtime, message: Any, stage: Stage, code: ErrorCode, reason: str) -> None:
    """Count a Kafka message an agent gives up on and send it to the dead-letter topic with the reason."""
    metrics.DEAD_LETTERS.labels(stage=stage, error_code=code).inc()
    await rt.topics["deadletter"].send(value=dumps(dead_letter(internal_record(message), stage, code,
                                                               reason).to_doc()))
