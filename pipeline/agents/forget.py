"""Agent: purge topic -> one forget message per detect partition, so every state entry is reachable.

A workspace's detector state is spread over every partition of the detect topic (it is keyed by
entity, not by workspace), and a Faust table entry may only be deleted while handling a message
of its own partition (the deletion goes to that partition's changelog). So each ForgetRequest is
sent to every partition; the detect agent deletes, on each, the entries that hash to it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from pipeline.deadletter import send_message
from schemas.lifecycle import ForgetFanout, ForgetRequest

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    """Define the forget agent on the app."""

    @rt.app.agent(rt.topics["purge"], name="secmon.forget", concurrency=1)
    async def forget(stream):
        async for item in stream.events():
            try:
                request = ForgetRequest.model_validate_json(item.message.value)
            except ValidationError as exc:
                reason = f"not a forget request: {exc.errors()[0]['msg']}"
                log.error("undecodable forget request at %s: %s", item.message.tp, reason)
                await send_message(rt, item.message, "detect", "invalid_shape", reason)
                continue
            partitions = rt.app.consumer.topic_partitions(rt.names.detect) or rt.settings.kafka.partitions
            fan = ForgetFanout(forget=request, partitions=partitions)
            body = fan.model_dump_json().encode()
            for partition in range(partitions):
                await rt.topics["detect"].send(key=request.workspace.encode(), value=body, partition=partition)
            log.info(
                "forget request %s part %d/%d of workspace %s sent to %d detect partitions",
                request.receipt_id,
                request.part,
                request.parts,
                request.workspace,
                partitions,
            )
