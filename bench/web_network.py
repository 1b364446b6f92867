"""Throughput and per-event latency of the web attack and port scan detectors alone.

    python -m bench.web_network [--events 200000] [--attack-share 0.05]

The stream replays the web and VPC flow samples of tests/data/detectors (attacks mixed with benign
clients, `--attack-share` of the events) and the web access fixtures of the normalizers (the rest;
3 of their 29 lines are attacks too: an `OR 1=1` with sqlmap's agent, a `.%2e/` traversal, a
`/backup.zip` probe), with source addresses varied over a population and timestamps advancing
20 ms per event. Events are built before timing (parsing has its own benchmark). Prints events/s, latency
percentiles per event and the state the four detectors keep.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from detectors.engine import Engine
from detectors.registry import DETECTORS
from detectors.state import DictStore
from pipeline.normalizers.base import ParseOptions
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Event

DATA = Path(__file__).parents[1] / "tests" / "data"
IDS = ("web_sql_injection", "web_path_traversal", "web_scanner", "network_port_scan")
ATTACKS = {
    "web_sqli_probe.log": "web_access",
    "web_traversal_probe.log": "web_access",
    "vpcflow_port_scans.log": "vpcflow",
}
START = datetime(2026, 12, 1, tzinfo=timezone.utc)


def docs(path: Path, source: str) -> list[dict]:
    """The events of one sample file as documents."""
    norm = NORMALIZERS[source]
    return [
        e.to_doc()
        for record in read_records(str(path), norm, 1 << 20)
        for e in process_record(record, norm, [], ParseOptions(2026)).events
    ]


def vary(doc: dict, i: int, who: int) -> Event:
    doc = json.loads(json.dumps(doc))
    doc["@timestamp"] = (START + timedelta(milliseconds=20 * i)).isoformat()
    doc["event"]["id"] = f"b{i}"
    if doc.get("source", {}).get("ip"):
        doc["source"]["ip"] = f"198.{18 + who % 2}.{(who // 250) % 250}.{who % 250 + 1}"
    return Event.model_validate(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--population", type=int, default=5_000, help="distinct client addresses")
    parser.add_argument("--attack-share", type=float, default=0.05, help="share of events from the attack samples")
    args = parser.parse_args()
    rng = random.Random(7)
    attacks = [d for name, source in ATTACKS.items() for d in docs(DATA / "detectors" / name, source)]
    fixtures = [d for p in sorted((DATA / "normalizers" / "web_access").glob("*.log")) for d in docs(p, "web_access")]
    events = [
        vary(rng.choice(attacks if rng.random() < args.attack_share else fixtures), i, rng.randrange(args.population))
        for i in range(args.events)
    ]
    gc.collect()
    gc.freeze()  # the pre-built events are not the detectors' garbage: keep collections from scanning them
    store = DictStore()
    engine = Engine([(DETECTORS[i], DETECTORS[i].params()) for i in IDS], store)
    latencies, alerts = [], 0
    started = time.perf_counter()
    for event in events:
        t0 = time.perf_counter_ns()
        alerts += len(engine.process(event))
        latencies.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    pct = {p: latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] / 1000 for p in (50, 99, 99.9)}
    state = sum(len(json.dumps(store.get(k))) for k in store.keys())
    print(f"detectors: {', '.join(IDS)}; {len(attacks)} attack-sample and {len(fixtures)} fixture template events")
    print(
        f"engine: {len(events):,} events in {elapsed:.2f}s = {len(events) / elapsed:,.0f} events/s; "
        f"{alerts:,} alert updates"
    )
    print("latency per event: " + ", ".join(f"p{p} {v:.1f} us" for p, v in pct.items()))
    print(f"state: {len(store):,} entries, {state / 1e6:.2f} MB as JSON")


if __name__ == "__main__":
    main()
