"""Faust's flow control, without dropping events a worker has just fetched after a (re)start.

Faust empties every agent's inbound queue each time `app.flow_control.resume()` is called, and
its table recovery calls it once more at the very end, after it resumed the stream partitions
and awaited the seek to the committed offsets (faust-streaming `Recovery.on_recovery_completed`,
issue #596). Flow is already running by then (recovery resumed it to read the changelogs), so
events fetched during that await are already in the queues and that last resume drops them:
they are never processed and never acked, and the consumer's position is past them, so the
running worker never reads them again. A worker restarted with a backlog of events then sits idle
with some of them not in Elasticsearch (the outage test's "count stays below 300" on CI).

Emptying the queues only makes sense when flow comes back from a suspension (a rebalance or a
stop suspends it and clears the queues itself; nothing is queued while it is suspended).
`KeepQueuedOnResume` does exactly that and nothing more: a resume while flow is already active
keeps what is queued.
"""

from __future__ import annotations

from mode.utils.queues import FlowControlEvent


class KeepQueuedOnResume(FlowControlEvent):
    """A `FlowControlEvent` whose `resume()` clears the managed queues only if flow was suspended."""

    def resume(self) -> None:
        if self.is_active():
            return  # already flowing: the queued events belong to this assignment, keep them
        super().resume()


def install(app) -> None:
    """Give `app` the flow control above; call before any agent or stream exists (they register
    their queues with `app.flow_control` when they are created)."""
    app.flow_control = KeepQueuedOnResume()
