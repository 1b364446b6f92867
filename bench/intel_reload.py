"""Threat-intel reload stall: the longest enrich() call while a big list reloads, vs the reload time.

    python -m bench.intel_reload [--indicators 1000000] [--events 20000] [--baseline-seconds 5]

A list of N indicators (bench.enrich_cost.write_indicators) is loaded, then replaced (write, rename)
by the same list plus 1 % new indicators. The reload starts in the background while this thread
enriches sign-in events back to back: a saturated event loop, the worst case, since it competes with
the build for the GIL at every switch interval. Each call's wall time (time.perf_counter) is kept
from the start of the reload to the swap, and then until the retired index is emptied. For scale:
the same loop with no reload (idle) and beside a plain busy Python thread (any thread costs that
much), and the same reload built in the calling thread, which one event used to wait for in full.
Wall times on a shared machine include other processes' load (printed). Prints markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from bench.enrich_cost import stream, write_indicators
from pipeline.enrichers.threat_intel import ThreatIntel
from schemas.event import Event


class FullCollections:
    """Counts full garbage collections and their longest pause while it is installed."""

    def __init__(self) -> None:
        self.count, self.longest, self._started = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.longest = max(self.longest, time.perf_counter() - self._started)


def enrich_until(
    intel: ThreatIntel, events: list[Event], done: Callable[[], bool]
) -> tuple[array, float, FullCollections]:
    """Per-call seconds of intel.apply over copies of `events` (round robin) until done(); elapsed seconds; full GCs.

    Each call gets a fresh copy that dies after it, as events do in the pipeline: enriching the same
    long-lived events would promote every match to the oldest generation and cause full collections."""
    gc.collect()  # start each phase with nothing pending
    calls, collections, started, n = array("d"), FullCollections(), time.perf_counter(), 0
    gc.callbacks.append(collections)
    try:
        while not done():
            event = events[n % len(events)].model_copy(deep=True)
            n += 1
            before = time.perf_counter()
            intel.apply(event)
            calls.append(time.perf_counter() - before)
    finally:
        gc.callbacks.remove(collections)
    return calls, time.perf_counter() - started, collections


def row(phase: str, calls: array, seconds: float, collections: FullCollections | None) -> str:
    """One markdown row: wall seconds, calls, p50/p99/p99.9/max per call, full GCs (longest pause)."""
    ordered = sorted(calls)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    gcs = "-" if collections is None else f"{collections.count} ({collections.longest * 1e3:.0f} ms)"
    return (
        f"| {phase} | {seconds:.1f} | {len(ordered):,} | {pct(0.5) * 1e6:.0f} us | {pct(0.99) * 1e6:.0f} us | "
        f"{pct(0.999) * 1e3:.1f} ms | {ordered[-1] * 1e3:.1f} ms | {gcs} |"
    )


def replace_list(path: Path, extra: Path) -> None:
    """`path` becomes itself plus the lines of `extra`, atomically (write, then rename), with a newer mtime."""
    tmp = path.with_suffix(".new")
    with path.open("rb") as old, extra.open("rb") as more, tmp.open("wb") as out:
        shutil.copyfileobj(old, out)
        shutil.copyfileobj(more, out)
    stat = path.stat()
    os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    tmp.replace(path)


def spin(stop: threading.Event) -> None:
    """Plain Python work until `stop`: the GIL contention of any busy thread."""
    while not stop.is_set():
        sum(range(1000))


def timed_for(seconds: float) -> Callable[[], bool]:
    """A done() that turns true `seconds` after its first call."""
    end: list[float] = []

    def done() -> bool:
        if not end:
            end.append(time.perf_counter() + seconds)
        return time.perf_counter() >= end[0]

    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; wall time per enrich() call")
    with tempfile.TemporaryDirectory(prefix="secmon-bench-") as tmp:
        events = stream(args.events)
        path, extra = Path(tmp) / "intel.txt", Path(tmp) / "extra.txt"
        started = time.perf_counter()
        write_indicators(path, args.indicators, events)
        write_indicators(extra, args.indicators // 100, [], seed=23)
        print(f"{args.indicators:,}-line list written in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        intel = ThreatIntel([path], check_seconds=3600)
        print(f"loaded in {time.perf_counter() - started:.1f} s: {len(intel.index.table):,} indicators")

        rows = [
            "| phase | seconds | enrich() calls | p50 | p99 | p99.9 | max | full GCs (longest) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        calls, seconds, gcs = enrich_until(intel, events, timed_for(args.baseline_seconds))
        rows.append(row("idle: no reload", calls, seconds, gcs))
        stop = threading.Event()
        busy = threading.Thread(target=spin, args=(stop,), daemon=True)
        busy.start()
        calls, seconds, gcs = enrich_until(intel, events, timed_for(args.baseline_seconds))
        stop.set()
        busy.join()
        rows.append(row("control: a plain busy Python thread beside", calls, seconds, gcs))

        replace_list(path, extra)
        old, version = intel.index, intel.version
        intel.reload(block=False)
        calls, seconds, gcs = enrich_until(intel, events, lambda: intel.version != version)
        rows.append(row(f"background reload of {args.indicators:,} lines, until the swap", calls, seconds, gcs))
        calls, seconds, gcs = enrich_until(intel, events, lambda: len(old.table) == 0 and not old.feeds[path].rows)
        rows.append(row("after the swap, until the old index is emptied", calls, seconds, gcs))
        added = len(intel.last_added)

        replace_list(path, extra)  # once more, built in this thread: what one event used to wait for
        intel.background = False
        started = time.perf_counter()
        intel.reload()
        blocking = time.perf_counter() - started
        rows.append(
            f"| blocking reload (before): one call waits for all of it | {blocking:.1f} | 1 | | | | "
            f"{blocking * 1e3:,.0f} ms | |"
        )
        print(f"reload added {added:,} indicators (swapped in once)\n")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
