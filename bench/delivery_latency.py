"""Latency from finding to webhook accepted: alerts topic -> `secmon worker` -> loopback webhook.

    python -m bench.delivery_latency [--rate 1000] [--seconds 20] [--concurrency 16]

Needs the local Kafka broker and Elasticsearch node (`bash scripts/services.sh up`). Starts a
worker with delivery on (one route, `group_by: [alert_id]`, `group_wait: 0s`: one notification
per alert, the worst case for throughput), an aiohttp webhook receiver on 127.0.0.1 in a
process of its own, then produces alerts to `<prefix>-alerts` at `--rate` per second and
measures, per alert, the time from its produce call to the receiver getting its signed request.
Everything (broker, node, worker, receiver, this process) shares the machine. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from aiohttp import web
from elasticsearch import Elasticsearch
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from bench.embedded_throughput import percentile

ROOT = Path(__file__).parents[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROUTES = "route:\n  receiver: bench\n  group_by: [alert_id]\n  group_wait: 0s\n  repeat_interval: 1m\n"


class Receiver:
    """A webhook endpoint in its own process (as a real receiver is: it must not share this
    process's interpreter lock with the producer) that reports when each alert id arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0
        ours, theirs = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs,), daemon=True)
        self._process.start()
        if not ours.poll(60):
            raise SystemExit("bench: the webhook receiver did not start within 60 s")
        self.port: int = ours.recv()
        threading.Thread(target=self._collect, args=(ours,), daemon=True).start()

    def _collect(self, pipe) -> None:
        while True:
            try:
                requests, arrivals = pipe.recv()
            except EOFError:
                return
            self.requests = requests
            for alert_id, at in arrivals:
                self.arrived.setdefault(alert_id, at)


def _serve(pipe) -> None:
    """The receiver process: accept every POST, note each alert id's first arrival, report them
    to the bench every 50 ms."""
    arrivals: list[tuple[str, float]] = []
    requests = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal requests
        body = await request.json()
        now = time.time()
        requests += 1
        arrivals.extend((a["alert"]["id"], now) for a in body["data"]["alerts"])
        return web.Response(text="ok")

    async def main() -> None:
        nonlocal arrivals
        app = web.Application()
        app.router.add_post("/hook", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        pipe.send(sock.getsockname()[1])
        while True:
            await asyncio.sleep(0.05)
            batch, arrivals = arrivals, []
            pipe.send((requests, batch))

    asyncio.run(main())


def alert_doc(i: int, run: str) -> tuple[str, bytes]:
    """A small alert as the detect agent produces it."""
    aid = uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{i}").hex
    ts = "2026-11-30T09:00:00+00:00"
    doc = {
        "@timestamp": ts,
        "message": f"bench finding {i}",
        "rule": {
            "id": "signin_bruteforce_user",
            "name": "Brute force against one user account",
            "version": 1,
            "maturity": "stable",
            "tags": ["attack.t1110.001"],
        },
        "alert": {
            "id": aid,
            "status": "open",
            "severity": "high",
            "dedup_key": f"user{i}@bench.example",
            "count": 1,
            "first_seen": ts,
            "last_seen": ts,
        },
        "user": {"name": f"user{i}@bench.example"},
        "secmon": {"event_ids": ["e1"], "event_count": 1},
    }
    return aid, json.dumps(doc, separators=(",", ":")).encode()


def start_worker(
    prefix: str, workdir: Path, receiver_port: int, profile: str | None = None, concurrency: int = 16
) -> subprocess.Popen:
    """`secmon worker` with delivery on, in its own session and data directory."""
    routes = workdir / "routes.yaml"
    routes.write_text(ROUTES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECMON_")}
    env.update(
        {
            "SECMON_KAFKA_TOPIC_PREFIX": prefix,
            "SECMON_ES_INDEX_PREFIX": prefix,
            "SECMON_APP_ID": prefix,
            "SECMON_LOG_LEVEL": "WARNING",
            "SECMON_DELIVERY_ROUTES_FILE": str(routes),
            "SECMON_DELIVERY_RECEIVERS": json.dumps(
                {
                    "bench": {
                        "kind": "webhook",
                        "max_concurrency": concurrency,
                        "url": f"http://127.0.0.1:{receiver_port}/hook",
                        "secret": SECRET,
                    }
                }
            ),
            "PYTHONPATH": str(ROOT),
        }
    )
    subprocess.run(
        [sys.executable, "-m", "pipeline", "topics"], env=env, cwd=workdir, check=True, capture_output=True
    )  # before anything is produced: no auto-created 1-partition topic
    log = open(workdir / "worker.log", "wb")  # noqa: SIM115 - lives as long as the worker
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    return subprocess.Popen(
        [sys.executable, *profiler, "-m", "pipeline", "worker"],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def produce(producer: KafkaProducer, topic: str, rate: int, seconds: float, run: str) -> dict[str, float]:
    """Produce rate*seconds alerts, evenly paced; alert id -> time of its produce call."""
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        aid, value = alert_doc(i, run)
        sent[aid] = time.time()
        producer.send(topic, key=aid.encode(), value=value)
    producer.flush()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to produce")
    parser.add_argument("--drain", type=float, default=120.0, help="how long to wait for stragglers afterwards")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="the receiver's max_concurrency (requests in flight)"
    )
    parser.add_argument("--profile", help="run the worker under cProfile, writing the stats to this file")
    parser.add_argument("--keep", action="store_true", help="keep the worker's directory (log, routes)")
    parser.add_argument("--bootstrap", default=os.environ.get("SECMON_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--es", default=os.environ.get("SECMON_ES_URL", "http://127.0.0.1:9200"))
    args = parser.parse_args()
    prefix, workdir = f"bench{uuid.uuid4().hex[:8]}", Path(tempfile.mkdtemp(prefix="secmon-bench-"))
    receiver = Receiver()
    worker = start_worker(prefix, workdir, receiver.port, args.profile, args.concurrency)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=0)
    topic = f"{prefix}-alerts"
    try:
        warm = produce(producer, topic, 10, 1, "warmup")
        _wait(lambda: all(a in receiver.arrived for a in warm), 180, "the worker to deliver a first alert")
        seen_before, cpu_before = receiver.requests, cpu_split(worker.pid)
        print(
            f"bench: worker {worker.pid} warm; producing {args.rate:,}/s for {args.seconds:g} s",
            file=sys.stderr,
            flush=True,
        )
        sent = produce(producer, topic, args.rate, args.seconds, "run")
        offered = len(sent) / (max(sent.values()) - min(sent.values()) or 1)
        _wait(lambda: all(a in receiver.arrived for a in sent), args.drain, "every alert", fatal=False)
        report(sent, receiver, receiver.requests - seen_before, offered)
        (user, system), delivered = cpu_split(worker.pid), sum(1 for a in sent if a in receiver.arrived)
        user, system = user - cpu_before[0], system - cpu_before[1]
        per = 1000 / max(1, delivered)
        print(
            f"worker CPU: {user + system:.1f} s, {(user + system) * per:.2f} ms per delivered alert "
            f"(user {user * per:.2f} + system {system * per:.2f}; all its agents: routing, delivery, "
            "history, changelog, and indexing the alerts)"
        )
        print(f"machine load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    finally:
        producer.close()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:  # a worker stuck in its stop must not outlive the bench
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        _cleanup(prefix, args)
        if args.keep:
            print(f"worker log kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(sent: dict[str, float], receiver: Receiver, requests: int, offered: float) -> None:
    """Print the latency percentiles and counts."""
    latencies = sorted(receiver.arrived[a] - t for a, t in sent.items() if a in receiver.arrived)
    done = [receiver.arrived[a] for a in sent if a in receiver.arrived]
    if not latencies:
        print(f"nothing delivered out of {len(sent):,} alerts")
        return
    print(
        f"machine: {os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}; "
        "Kafka, Elasticsearch, the worker and this process share it"
    )
    print(
        f"offered {offered:,.0f} alerts/s: {len(sent):,} produced, {len(latencies):,} delivered, "
        f"{len(sent) - len(latencies)} lost, {requests - len(latencies)} extra requests "
        f"(delivered at {len(done) / (max(done) - min(sent.values())):,.0f} alerts/s)"
    )
    print(
        "finding -> webhook accepted: "
        + ", ".join(f"p{q * 100:g} {percentile(latencies, q) * 1000:,.0f} ms" for q in (0.5, 0.9, 0.99))
        + f", max {latencies[-1] * 1000:,.0f} ms"
    )


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process and its reaped children (Linux /proc), in seconds.
    System time is mostly the loopback TCP of each request and Kafka send, paid in the kernel."""
    fields = [int(v) for v in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15]]
    tick = os.sysconf("SC_CLK_TCK")
    return (fields[0] + fields[2]) / tick, (fields[1] + fields[3]) / tick


def _wait(predicate, timeout: float, what: str, fatal: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            if fatal:
                raise SystemExit(f"bench: timed out after {timeout:.0f}s waiting for {what}")
            print(f"bench: gave up waiting for {what} after {timeout:.0f}s", file=sys.stderr)
            return
        time.sleep(0.1)


def _cleanup(prefix: str, args: argparse.Namespace) -> None:
    """Delete the run's indices and topics so benchmarks leave nothing behind."""
    es = Elasticsearch(args.es)
    es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
    es.close()
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
    admin.close()


if __name__ == "__main__":
    main()
