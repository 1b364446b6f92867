"""Repeated client warnings: one line per window with the count of those dropped, each counted."""

from __future__ import annotations

import logging

from pipeline import metrics
from pipeline.logthrottle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str = "Unable connect to node with id %s: %s", level: int = logging.ERROR):
    return logging.LogRecord(name, level, __file__, 1, msg, (1, "refused"), None)


def _dropped(logger: str) -> float:
    return metrics.LOG_LINES_DROPPED.labels(logger=logger)._value.get()


def test_a_repeated_client_error_passes_once_per_window_then_says_how_many_were_dropped() -> None:
    clock, before = Clock(), _dropped("aiokafka")
    throttle = Throttle(window=10, clock=clock)
    passed = []
    for _ in range(1000):
        record = _record("aiokafka.conn")
        if throttle.filter(record):
            passed.append(record.getMessage())
        clock.now += 0.05  # 50 s of an outage
    assert len(passed) == 5
    assert passed[0] == "Unable connect to node with id 1: refused"
    assert passed[1] == "Unable connect to node with id 1: refused [and 199 more like it in the last 10 s, not shown]"
    assert _dropped("aiokafka") == before + 995


def test_kinds_are_throttled_apart_and_secmon_lines_and_info_pass() -> None:
    throttle = Throttle(window=10, clock=Clock())
    assert throttle.filter(_record("aiokafka.conn"))
    assert throttle.filter(_record("aiokafka", msg="Unable to update metadata from %s"))
    assert not throttle.filter(_record("aiokafka.conn"))
    for _ in range(3):
        assert throttle.filter(_record("pipeline.agents.detect", msg="alert %s not sent: %s"))
        assert throttle.filter(_record("faust.worker", msg="Recovery complete", level=logging.INFO))
        assert throttle.filter(_record("aiokafkaesque", msg="not a client logger"))


def test_lines_a_library_formatted_itself_are_one_kind_whatever_their_numbers() -> None:
    throttle = Throttle(window=10, clock=Clock())
    assert throttle.filter(
        _record("faust.transport.producer", msg="producer buffer full size 104", level=logging.WARNING)
    )
    assert not throttle.filter(
        _record("faust.transport.producer", msg="producer buffer full size 99", level=logging.WARNING)
    )
