"""The worker's flow control keeps queued events on a resume while flow is already running.

Faust's table recovery resumes flow a last time after it resumed the stream partitions and
awaited the seek; events fetched meanwhile are queued, and Faust's own flow control drops them
(never processed, never acked: a restarted worker sat idle with events missing from
Elasticsearch). The integration side is tests/integration/test_index_outage.py.
"""

from __future__ import annotations

import asyncio

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from pipeline.app import create_app
from pipeline.check import check_settings
from pipeline.flow_control import KeepQueuedOnResume
from pipeline.settings import SecmonSettings


def _queue(flow: FlowControlEvent) -> FlowControlQueue:
    queue: FlowControlQueue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()  # flow starts suspended, as in Faust
    queue.put_nowait("event fetched after the seek")
    return queue


def test_a_resume_while_flowing_keeps_the_queued_events():
    queue = _queue(KeepQueuedOnResume())
    queue._flow_control.resume()  # recovery's last resume: flow was already active
    assert queue.qsize() == 1


def test_fausts_own_flow_control_drops_them():  # the behaviour replaced: if Faust changes it, look again
    queue = _queue(FlowControlEvent())
    queue._flow_control.resume()
    assert queue.qsize() == 0


def test_a_resume_after_a_suspension_still_clears_the_queues():
    flow = KeepQueuedOnResume()
    queue = _queue(flow)
    flow.suspend()  # a rebalance or a stop
    flow.resume()
    assert queue.qsize() == 0
    assert flow.is_active()


def test_the_worker_app_uses_it_for_every_agent_queue():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # as run_worker does before building the app
    try:
        report = check_settings(SecmonSettings())
        assert report.checked is not None
        app = create_app(report.checked).app
        assert isinstance(app.flow_control, KeepQueuedOnResume)
        queue = app.FlowControlQueue(clear_on_resume=True)  # how Faust makes each channel's and stream's queue
        assert queue in app.flow_control._queues
    finally:
        asyncio.set_event_loop(None)
        loop.close()
