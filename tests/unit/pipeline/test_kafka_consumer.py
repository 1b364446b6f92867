"""The worker's consumer: what it hands aiokafka, and which app builds it.

The behaviour on the broker (a restart with partitions nothing was committed for) is
tests/integration/test_restart_recovery.py.
"""

from __future__ import annotations

import asyncio

import faust
import pytest

from pipeline.app import create_app
from pipeline.check import check_settings
from pipeline.kafka import consumer
from pipeline.settings import SecmonSettings


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # as run_worker does before building the app
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def test_the_worker_app_builds_its_consumer_from_it(loop):
    report = check_settings(SecmonSettings())
    assert report.checked is not None
    app = create_app(report.checked).app
    assert isinstance(app.consumer, consumer.Consumer)


def test_aiokafka_gets_a_copy_of_the_active_partitions(loop):
    """aiokafka reads an empty set as "every partition": the set Faust keeps emptying while the
    call waits (every partition paused) must not be the one aiokafka looks at."""
    app = faust.App("secmon-unit", broker="kafka://127.0.0.1:1", consumer_auto_offset_reset="earliest")
    consumer.install(app)
    seen: list[set] = []

    class Thread:
        async def getmany(self, active_partitions, timeout):
            live.clear()  # Faust pauses every partition while the fetch waits
            seen.append(active_partitions)
            return {}

    live = {faust.types.TP("t", 0)}
    app.consumer._thread = Thread()
    loop.run_until_complete(app.consumer._getmany(live, 1.0))
    assert seen == [{faust.types.TP("t", 0)}]


def test_it_refuses_an_app_that_does_not_reset_to_earliest(loop):
    app = faust.App("secmon-unit", broker="kafka://127.0.0.1:1", consumer_auto_offset_reset="latest")
    with pytest.raises(ValueError, match="earliest"):
        consumer.install(app)
