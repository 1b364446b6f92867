"""A stopping worker waits for what its agents hold, never for events dropped from the queues, and
not forever (issue 19). The end-to-end side is tests/integration/test_sigterm_worker.py."""

from __future__ import annotations

import asyncio
import time

import pytest
from faust.events import Event
from faust.types.tuples import Message

from pipeline import worker_stop
from pipeline.app import create_app
from pipeline.check import check_settings
from pipeline.flow_control import KeepQueuedOnResume
from pipeline.settings import SecmonSettings


@pytest.fixture
def app():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # as run_worker does before building the app
    try:
        app = worker_stop.WorkerApp("stop-test", broker="kafka://127.0.0.1:1")  # nothing connects
        worker_stop.install(app)
        yield app
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _delivered(app, offset: int) -> Message:
    """A message the consumer handed to the streams (tracked until acked), as Faust's conductor does."""
    message = Message("events", 0, offset, time.time(), 0, {}, b"k", b"v", None)
    app.consumer.track_message(message)
    return message


def test_events_dropped_from_the_queues_are_not_waited_for_and_not_acked(app):
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)  # how Faust makes each channel's queue
    app.flow_control.resume()
    dropped, in_hand = _delivered(app, 1), _delivered(app, 2)
    queue.put_nowait(Event(app, b"k", b"v", {}, dropped))
    app.flow_control.suspend()  # a stop or a revocation: suspend, then empty the queues
    app.flow_control.clear()
    unacked = set(app.consumer._unacked_messages)
    assert dropped not in unacked and not dropped.acked  # abandoned: the commit stops before it
    assert in_hand in unacked  # an agent's batch: still waited for


def test_the_wait_ends_when_the_agents_acked_what_they_hold(app):
    held = _delivered(app, 1)

    async def stop() -> float:
        asyncio.get_running_loop().call_later(0.2, app.consumer.ack, held)
        started = time.monotonic()
        await worker_stop.wait_in_hand(app.consumer, grace=30)
        return time.monotonic() - started

    assert asyncio.get_event_loop().run_until_complete(stop()) < 5


def test_the_wait_is_bounded_when_an_agent_never_acks(app, caplog):
    _never = _delivered(app, 1)

    async def stop() -> float:
        started = time.monotonic()
        await worker_stop.wait_in_hand(app.consumer, grace=0.5)
        return time.monotonic() - started

    assert asyncio.get_event_loop().run_until_complete(stop()) < 3
    assert "left uncommitted, the next worker reads them again" in caplog.text
    assert _never in set(app.consumer._unacked_messages)  # never acked: not committed


def test_the_worker_app_stops_this_way():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        report = check_settings(SecmonSettings())
        assert report.checked is not None
        app = create_app(report.checked).app
        assert isinstance(app, worker_stop.WorkerApp)
        assert isinstance(app.flow_control, worker_stop.ReleaseDropped)
        assert isinstance(app.flow_control, KeepQueuedOnResume)  # and keeps queued events on a resume
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_a_message_another_agent_holds_is_waited_for_until_that_agent_acked_it(app):
    # the events topic feeds index and route: route's copy still queued, index's in its batch
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
    app.flow_control.resume()
    shared = _delivered(app, 1)
    shared.incref(2)  # as the conductor does for a topic read by two agents
    queue.put_nowait(Event(app, b"k", b"v", {}, shared))
    app.flow_control.suspend()
    app.flow_control.clear()
    assert shared in set(app.consumer._unacked_messages), "index still holds it: the stop waits for it"

    async def stop() -> float:
        asyncio.get_running_loop().call_later(0.2, shared.ack, app.consumer)  # index's batch is done
        started = time.monotonic()
        await worker_stop.wait_in_hand(app.consumer, grace=30, flow=app.flow_control)
        return time.monotonic() - started

    assert asyncio.get_event_loop().run_until_complete(stop()) < 5
    assert not shared.acked, "route never processed it: never acked, so never committed"
    assert shared not in set(app.consumer._unacked_messages)
