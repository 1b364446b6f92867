"""Work beside the event path: run a task in a daemon thread and collect its result through a Future.

Enrichers that rebuild big tables (threat-intel lists) start the build here and swap the result in
once `Future.done()`, an O(1) check the event path can afford per event. `run_here` gives the same
Future from the calling thread, for replays and tests that need every step in order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def run_in_thread(task: Callable[[], T], name: str) -> Future[T]:
    """Run `task` in a new daemon thread; the Future holds its result or exception.

    A daemon thread rather than a ThreadPoolExecutor, whose workers interpreter exit waits for: stopping
    a worker or a run never waits for a half-built table."""
    future: Future[T] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(task())
        except BaseException as exc:  # handed over to whoever collects the future
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def run_here(task: Callable[[], T]) -> Future[T]:
    """Run `task` now, in this thread; the Future holds its result or exception (as `run_in_thread`)."""
    future: Future[T] = Future()
    try:
        future.set_result(task())
    except Exception as exc:
        future.set_exception(exc)
    return future


def log_failure(what: str) -> Callable[[Future], None]:
    """A done-callback that logs the exception of a task nobody collects (`what` failed: why)."""

    def check(future: Future) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("%s failed", what, exc_info=exc)

    return check
