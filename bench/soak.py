"""Soak: shipper -> Kafka -> one worker -> Elasticsearch at a steady rate, watched every 30 s.

    python -m bench.soak [--rate 5000] [--minutes 10] [--interval 30]

Runs on the fault suite's own broker and node (bench.faults' services: own ports and dir, started
if down) with one deployment (the integration suite's `Stack`). A file grows at --rate sign-ins/s
stamped with the wall clock, with a brute force (12 failures from a new IP against a new user)
every 5 s, so alerts keep coming. Every --interval s it prints: events appended and indexed, the
indexing rate over the interval, the consumer group's lag (sum over its topics: end offset -
committed), the worker's RSS, and the p50/p99 event->alert latency of the alert messages of the
interval (broker timestamp of the alert message - the alert's last_seen, the time of the event
that made it). At the end: the rate one worker sustained (events indexed per second over the run
after warm-up) and RSS after warm-up vs at the end. Figures from a shared 2-core machine: noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench.faults import Services, es_count
from tests.integration.conftest import Stack

BENIGN = (
    '{{"timestamp":"{ts}","user":"user{u}@ws{w}.example","user_id":"u-{u}","workspace":"ws-{w}",'
    '"outcome":"success","source_ip":"198.51.{a}.{b}","user_agent":"Mozilla/5.0 (X11; Linux x86_64)",'
    '"auth_method":"password","mfa_used":true,"session_id":"s-{i}"}}\n'
)
FAILURE = (
    '{{"timestamp":"{ts}","user":"victim{n}@ws1.example","workspace":"ws-1","outcome":"failure",'
    '"failure_reason":"bad_password","source_ip":"203.0.{a}.{b}","user_agent":"python-requests/2.32.3",'
    '"auth_method":"password","mfa_used":false}}\n'
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Feed(threading.Thread):
    """Appends --rate lines/s to the input in 0.1 s steps until stopped; a burst every 5 s."""

    def __init__(self, path: Path, rate: int) -> None:
        super().__init__(daemon=True)
        self.path, self.rate, self.written, self.stop = path, rate, 0, threading.Event()

    def run(self) -> None:
        step, bursts, t0 = max(1, self.rate // 10), 0, time.monotonic()
        with self.path.open("a", encoding="utf-8") as out:
            while not self.stop.is_set():
                ts, chunk = _now(), []
                for _ in range(step):
                    i = self.written + len(chunk)
                    u = i % 500
                    chunk.append(BENIGN.format(ts=ts, u=u, w=u % 40, a=u // 250, b=u % 250 + 1, i=i))
                if time.monotonic() - t0 > 5 * (bursts + 1):
                    bursts += 1
                    chunk += [FAILURE.format(ts=ts, n=bursts, a=bursts // 250, b=bursts % 250 + 1)] * 12
                out.write("".join(chunk))
                out.flush()
                self.written += len(chunk)
                next_at = t0 + self.written / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))


class AlertLatency(threading.Thread):
    """Reads the alerts topic; one latency sample per alert message (seconds)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.consumer = KafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=1000
        )
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for msg in self.consumer:
                last_seen = json.loads(msg.value)["alert"]["last_seen"]
                seen = datetime.fromisoformat(last_seen.replace("Z", "+00:00")).timestamp()
                self.samples.append(msg.timestamp / 1000 - seen)
        self.consumer.close()

    def take(self) -> list[float]:
        out, self.samples = self.samples, []
        return out


def lag(admin: KafkaAdminClient, consumer: KafkaConsumer, group: str, prefix: str) -> int:
    """Sum over the group's partitions of secmon's own topics: end offset - committed offset."""
    offsets = admin.list_group_offsets(group).get(group, {})
    committed = {tp: meta.offset for tp, meta in offsets.items() if tp.topic.startswith(prefix)}
    topics = [t for t in consumer.topics() if t.startswith(prefix) and "changelog" not in t and "__" not in t]
    parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
    ends = consumer.end_offsets(parts)
    return sum(max(0, end - max(0, committed.get(tp, 0))) for tp, end in ends.items())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5000, help="sign-ins/s appended to the shipped file")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=30)
    parser.add_argument("--warmup", type=int, default=2, help="intervals left out of the sustained figures")
    parser.add_argument("--services-dir", default="/var/lib/secmon-services-faults")
    parser.add_argument("--kafka-port", type=int, default=9096)
    parser.add_argument("--es-port", type=int, default=9202)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/secmon-soak"))
    parser.add_argument("--ready-timeout", type=int, default=600, help="s the services may take to be ready")
    parser.add_argument(
        "--running", action="store_true", help="use services already up on the ports (never start them)"
    )
    args = parser.parse_args(argv)
    services = Services(args)
    if not args.running:
        services.run("up")
    prefix = f"soak{uuid.uuid4().hex[:8]}"
    workdir = args.workdir / prefix
    workdir.mkdir(parents=True)
    stack = Stack(prefix=prefix, workdir=workdir, bootstrap=services.bootstrap, es_url=services.es_url)
    stack.extra_env = {"SECMON_SHIPPER_BATCH_SIZE": "2000", "SECMON_SHIPPER_POLL_SECONDS": "0.2"}
    es = Elasticsearch(services.es_url, request_timeout=30)
    assert stack.secmon("topics").returncode == 0, "secmon topics failed"
    worker = stack.start("worker", log_name="worker")
    time.sleep(10)
    feed = Feed(workdir / "signins.jsonl", args.rate)
    feed.path.touch()
    stack.start("ship", "--source", "app_signin", str(feed.path), log_name="shipper")
    latency = AlertLatency(services.bootstrap, f"{prefix}-alerts")
    admin = KafkaAdminClient(bootstrap_servers=services.bootstrap)
    offsets = KafkaConsumer(bootstrap_servers=services.bootstrap)
    feed.start()
    latency.start()
    index = f"{prefix}-events-*"
    t0, last_n, last_t, rows = time.monotonic(), 0, time.monotonic(), []
    print(f"soak: {prefix}, target {args.rate}/s for {args.minutes} min, worker pid {worker.pid}", flush=True)
    print(
        f"{'t s':>5} {'appended':>9} {'indexed':>9} {'idx/s':>7} {'lag':>8} {'rss MiB':>8} {'p50 s':>6} {'p99 s':>6} {'alerts':>6}"
    )
    try:
        while time.monotonic() - t0 < args.minutes * 60:
            time.sleep(args.interval)
            n, now = max(0, es_count(es, index)), time.monotonic()
            samples = latency.take()
            row = {
                "t": now - t0,
                "appended": feed.written,
                "indexed": n,
                "rate": (n - last_n) / (now - last_t),
                "lag": lag(admin, offsets, prefix, prefix),
                "rss": rss_mib(worker.pid),
                "p50": pct(samples, 50),
                "p99": pct(samples, 99),
                "alerts": len(samples),
            }
            rows.append(row)
            last_n, last_t = n, now
            p50, p99 = (f"{row[k]:.1f}" if row[k] is not None else "-" for k in ("p50", "p99"))
            print(
                f"{row['t']:5.0f} {row['appended']:9d} {row['indexed']:9d} {row['rate']:7.0f} {row['lag']:8d} "
                f"{row['rss']:8.0f} {p50:>6} {p99:>6} {row['alerts']:6d}",
                flush=True,
            )
    finally:
        feed.stop.set()
        latency.stop.set()
        stack.stop_all()
        admin.close()
        offsets.close()
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
    steady = rows[args.warmup :] or rows
    base = rows[args.warmup - 1] if 0 < args.warmup < len(rows) else {"indexed": 0, "t": 0.0}
    sustained = (rows[-1]["indexed"] - base["indexed"]) / (rows[-1]["t"] - base["t"])
    print(
        f"\nsoak: appended {feed.written / rows[-1]['t']:.0f}/s, one worker indexed {sustained:.0f}/s after warm-up "
        f"(lag {steady[0]['lag']} -> {rows[-1]['lag']}); RSS {steady[0]['rss']:.0f} MiB after warm-up, "
        f"{max(r['rss'] for r in steady):.0f} max, {rows[-1]['rss']:.0f} at the end"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
