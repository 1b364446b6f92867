"""The worker's Kafka consumer: Faust's aiokafka consumer, without losing the records of a partition
the group never committed (issue 19).

Faust heals every "fetched but not handed to a stream" case (a rebalance, the end of table
recovery) by seeking all partitions back to their committed offsets. aiokafka's
`seek_to_committed` leaves a partition without a committed offset where it is, so records Faust
dropped there are skipped: a worker restarted after a SIGKILL (nothing of a topic committed yet),
or a worker taking over such partitions, sits ready and idle with them never processed, and later
commits past them. Two changes close it:

- `_getmany` hands aiokafka a copy of the partitions to return. Faust passes its live set of
  active partitions, which empties while the call waits (recovery pauses every partition before
  it resumes the streams), and aiokafka reads an empty set as "every partition": it returned the
  records of paused partitions, which Faust then dropped.
- `seek_to_committed` sends a partition without a committed offset to its beginning (what
  `consumer_auto_offset_reset="earliest"` means for it), so Faust's seek back re-reads it instead
  of skipping what was dropped. At least once: at worst a record is read twice, never skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with the two fixes above."""

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        snapshot = None if active_partitions is None else set(active_partitions)
        return await super()._getmany(snapshot, timeout)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        uncommitted = sorted(tp for tp, offset in committed.items() if not offset and not self._is_changelog_tp(tp))
        if uncommitted:
            log.debug("no committed offset: %d partitions read again from their beginning", len(uncommitted))
            await self._thread.seek_to_beginning(*uncommitted)
        return committed


def install(app: Any) -> None:
    """Make `app` build its consumer from `Consumer`; call before anything touches `app.consumer`.

    Refuses another earliest/latest policy: re-reading from the beginning is only right when the
    app's own reset policy says so."""
    if app.conf.consumer_auto_offset_reset != "earliest":
        raise ValueError("pipeline.kafka.consumer needs consumer_auto_offset_reset='earliest'")
    transport = app.transport
    if not isinstance(transport, faust_aiokafka.Transport):
        raise TypeError(f"pipeline.kafka.consumer needs Faust's aiokafka transport, not {type(transport).__name__}")
    transport.Consumer = Consumer  # type: ignore[misc]  # the class Transport.create_consumer builds
