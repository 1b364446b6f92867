"""Events/s and per-event latency of the embedded core (normalize -> enrich -> detect) on one core.

    python -m bench.embedded_throughput [--events 200000]

Generates a sign-in stream (benign traffic plus a brute-force burst), pins itself to one CPU,
and runs the same code the worker runs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import timedelta

from bench.generate import with_burst
from detectors.engine import Engine
from detectors.registry import configure
from detectors.state import DictStore
from pipeline.enrichers.registry import default_enrichers
from pipeline.normalizers.app_signin import NORMALIZER
from pipeline.normalizers.base import RawRecord
from pipeline.process import process_record
from pipeline.settings import SecmonSettings
from schemas.event import Origin


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    settings = SecmonSettings()
    lines = [json.dumps(r).encode() for r in with_burst(args.events)]
    enrichers = default_enrichers(settings)
    engine = Engine(configure({}), DictStore(), lateness=timedelta(minutes=5))
    parse_options = settings.parse.options()
    latencies: list[float] = []
    alerts = 0
    started = time.perf_counter()
    for offset, line in enumerate(lines):
        t0 = time.perf_counter()
        record = RawRecord(data=line, origin=Origin(source="app_signin", file="bench", file_id="bench", offset=offset))
        for event in process_record(record, NORMALIZER, enrichers, parse_options).events:
            alerts += len(engine.process(event))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        f"machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), pinned to 1 core, "
        f"Python {platform.python_version()}"
    )
    print(
        f"embedded core, app_signin: {args.events:,} events in {elapsed:.2f}s = {args.events / elapsed:,.0f} events/s "
        f"({alerts} alert updates, {len(engine.store)} state entries)"
    )
    print(
        "latency per event: "
        + ", ".join(f"p{q * 100:g} {percentile(latencies, q) * 1e6:.0f} us" for q in (0.5, 0.9, 0.99, 0.999))
    )


if __name__ == "__main__":
    main()
