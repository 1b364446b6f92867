"""Detection engine throughput with every detector enabled, on a mixed stream, and its state size.

    python -m bench.engine_throughput [--events 1000000]

The stream is built from the normalizers' golden fixtures (sign-ins, sshd, web, Zeek, CloudTrail,
VPC flow, staff access, osquery, Trivy, control events): each template event is replayed with
its entity fields varied over a population (users, IPs, hosts) and timestamps advancing 50 ms
per event, so state grows as it would in production. Events are built before timing: this
measures detection only (normalize/enrich have their own benchmarks). Prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from detectors.clock import EventClock
from detectors.engine import Engine
from detectors.registry import configure
from detectors.state import DictStore
from pipeline.normalizers.base import ParseOptions
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Event

DATA = Path(__file__).parents[1] / "tests" / "data" / "normalizers"
START = datetime(2026, 11, 30, tzinfo=timezone.utc)


def templates() -> list[dict]:
    docs = []
    for source in sorted(NORMALIZERS):
        for path in sorted((DATA / source).glob("*")):
            if path.is_file() and not path.name.endswith("-expected.json"):
                for record in read_records(str(path), NORMALIZERS[source], 1024 * 1024):
                    docs += [
                        e.to_doc() for e in process_record(record, NORMALIZERS[source], [], ParseOptions(2026)).events
                    ]
    return docs


def vary(doc: dict, i: int, rng: random.Random, population: int) -> Event:
    doc = json.loads(json.dumps(doc))
    doc["@timestamp"] = (START + timedelta(milliseconds=50 * i)).isoformat()
    doc["event"]["id"] = f"b{i}"
    who = rng.randrange(population)
    if doc.get("user", {}).get("name"):
        doc["user"]["name"] = f"user{who}@ws{who % 50}.example"
    if doc.get("source", {}).get("ip"):
        doc["source"]["ip"] = f"198.{18 + who % 2}.{(who // 250) % 250}.{who % 250 + 1}"
    if doc.get("host", {}).get("name"):
        doc["host"]["name"] = f"host-{who % 200}"
    return Event.model_validate(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--population", type=int, default=20_000, help="distinct users/IPs")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rng = random.Random(7)
    base = templates()
    detectors = configure({})
    store = DictStore()
    engine = Engine(detectors, store, lateness=timedelta(minutes=5))
    clock = EventClock(engine, every=timedelta(minutes=1))
    alerts = processed = 0
    elapsed = 0.0
    chunk = 20_000
    while processed < args.events:
        n = min(chunk, args.events - processed)
        events = [vary(rng.choice(base), processed + i, rng, args.population) for i in range(n)]
        started = time.perf_counter()
        for event in events:
            alerts += len(engine.process(event)) + len(clock.observe(event.timestamp))
        elapsed += time.perf_counter() - started
        processed += n
    state_bytes = sum(len(json.dumps(store.get(k).to_doc())) for k in store.keys())
    entities = len(store)
    print(
        f"machine: {os.cpu_count()} cores, pinned to 1; {len(detectors)} detectors enabled; "
        f"{len(base)} template events from {len(NORMALIZERS)} sources"
    )
    print(
        f"engine: {processed:,} events in {elapsed:.1f}s = {processed / elapsed:,.0f} events/s; "
        f"{alerts:,} alert updates"
    )
    print(
        f"state: {entities:,} (detector, entity) entries, {state_bytes / 1e6:.1f} MB as JSON, "
        f"{state_bytes / max(1, entities):.0f} bytes per entry"
    )


if __name__ == "__main__":
    main()
