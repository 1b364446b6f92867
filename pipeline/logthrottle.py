"""Repeated warnings of the Kafka and Elasticsearch clients: one line per window, with a count.

While the broker is away aiokafka logs a line per connection attempt and per metadata refresh
(about 63k ERROR lines in a 2-minute outage), which buries every other line and fills disks.
`Throttle` lets the first line of a kind (logger, level, message template, its numbers aside) through, drops that
kind for `window` s, then lets the next one through saying how many it dropped. Every dropped
line is counted (`secmon_log_lines_dropped_total` by top-level logger), so nothing is lost
silently; secmon's own lines pass untouched except the send-retry warning.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from pipeline import metrics

# the loggers whose repeated warnings are throttled: the clients, and the Kafka send retry loop
THROTTLED = ("aiokafka", "kafka", "faust", "mode", "elastic_transport", "elasticsearch", "pipeline.kafka.send")
WINDOW_SECONDS = 10.0
MAX_KINDS = 1000  # templates are fixed strings in code; a cap in case a library pre-formats them
DIGITS = re.compile(r"\d+")  # a pre-formatted line ("buffer full size 104") is one kind whatever its numbers


class Throttle(logging.Filter):
    """A handler filter: each kind of client warning at most once per `window` s, with a count."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window, self.clock = window, clock
        self._kinds: dict[tuple[str, int, str], tuple[float, int]] = {}  # kind -> (shown at, dropped since)

    def filter(self, record: logging.LogRecord) -> bool:
        top = _throttled(record.name)
        if top is None or record.levelno < logging.WARNING:
            return True
        kind, now = (record.name, record.levelno, DIGITS.sub("#", str(record.msg))), self.clock()
        shown, dropped = self._kinds.get(kind, (None, 0))
        if shown is not None and now - shown < self.window:
            self._kinds[kind] = (shown, dropped + 1)
            metrics.LOG_LINES_DROPPED.labels(logger=top).inc()
            return False
        if len(self._kinds) >= MAX_KINDS:
            self._kinds.clear()
        self._kinds[kind] = (now, 0)
        if dropped and shown is not None:
            record.msg = f"{record.msg} [and {dropped} more like it in the last {now - shown:.0f} s, not shown]"
        return True


def _throttled(name: str) -> str | None:
    """The THROTTLED entry `name` falls under (the metric label), or None."""
    for top in THROTTLED:
        if name == top or name.startswith(top + "."):
            return top
    return None


def install(logger: logging.Logger | None = None) -> None:
    """Add one Throttle to every handler of `logger` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, Throttle) for f in handler.filters):
            handler.addFilter(Throttle())
