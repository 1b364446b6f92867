"""Integration fixtures: the real Kafka broker and Elasticsearch node, never fakes.

`scripts/services.sh up` starts both on loopback (`.ci/run` does it once per run). Point the
suite at other servers with SECMON_KAFKA_BOOTSTRAP / SECMON_ES_URL. Each test gets its own
topic prefix, index prefix and consumer group, so tests never see each other's data.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

BOOTSTRAP = os.environ.get("SECMON_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ES_URL = os.environ.get("SECMON_ES_URL", "http://127.0.0.1:9200")
ROOT = Path(__file__).parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def _reachable(hostport: str) -> bool:
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def services() -> None:
    """Fail (not skip) when the services are down: an integration run that tests nothing is a lie."""
    es_hostport = ES_URL.split("//", 1)[-1].rstrip("/")
    down = [
        name for name, hp in (("Kafka", BOOTSTRAP.split(",")[0]), ("Elasticsearch", es_hostport)) if not _reachable(hp)
    ]
    if down:
        pytest.fail(
            f"{' and '.join(down)} not reachable; run `bash scripts/services.sh up` "
            "or set SECMON_KAFKA_BOOTSTRAP / SECMON_ES_URL"
        )


@pytest.fixture(scope="session")
def es(services) -> Iterator[Elasticsearch]:
    client = Elasticsearch(ES_URL, request_timeout=60)
    yield client
    client.close()


@dataclass
class Stack:
    """One isolated secmon deployment on the shared services: its own prefix, group and state."""

    prefix: str
    workdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    bootstrap: str = BOOTSTRAP  # bench/faults.py: a broker and node of its own
    es_url: str = ES_URL
    extra_env: dict[str, str] = field(default_factory=dict)  # settings every process of this stack gets

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECMON_")}
        env.update(
            {
                "SECMON_KAFKA_BOOTSTRAP": self.bootstrap,
                "SECMON_ES_URL": self.es_url,
                "SECMON_KAFKA_TOPIC_PREFIX": self.prefix,
                "SECMON_ES_INDEX_PREFIX": self.prefix,
                "SECMON_APP_ID": self.prefix,
                "SECMON_SHIPPER_STATE_DIR": str(self.workdir / "shipper-state"),
                "SECMON_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
                "SECMON_LOG_LEVEL": "INFO",
                "SECMON_SHIPPER_POLL_SECONDS": "0.1",
                "SECMON_SHIPPER_BATCH_SIZE": "100",
                "SECMON_LIFECYCLE_SCHEDULE": "false",  # no snapshots from every test's worker; its own test turns it on
            }
        )
        env.update(self.extra_env)
        return env

    def secmon(
        self, *args: str, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Run a secmon command to completion (a generous bound: tests run three at a time, and on a
        busy machine the interpreter's imports alone have taken over 40 s)."""
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            timeout=timeout,
            capture_output=True,
            text=True,
            check=False,
        )

    def start(
        self, *args: str, log_name: str, env: dict[str, str] | None = None, module: str = "pipeline"
    ) -> subprocess.Popen:
        """Start a long-running secmon command (or `module`, a wrapper of it); its output goes to a
        log file in the workdir."""
        log = open(self.workdir / f"{log_name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        running = [p for p in self.procs if p.poll() is None]
        for proc in running:  # all at once: Faust's fetcher alone can take ~10 s to stop
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def stack(services, tmp_path: Path, es: Elasticsearch) -> Iterator[Stack]:
    s = Stack(prefix=f"it{uuid.uuid4().hex[:10]}", workdir=tmp_path)
    yield s
    s.stop_all()
    for proc_log in tmp_path.glob("*.log"):  # shown by pytest when the test failed
        print(f"--- {proc_log.name} (tail)\n" + "\n".join(proc_log.read_text(errors="replace").splitlines()[-40:]))
    es.options(ignore_status=404).indices.delete(index=f"{s.prefix}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{s.prefix}-*")


def produce_alerts(topic: str, alerts) -> None:
    """Send alerts the way the detect agent does (key = alert id, value = alert JSON), acked by all."""
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    for a in alerts:
        producer.send(topic, key=a.alert.id.encode(), value=json.dumps(a.to_doc()).encode())
    producer.flush()
    producer.close()


def free_port() -> int:
    """A TCP port nobody listens on right now (for /metrics)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 1.0, what: str = "condition"):
    """Poll until predicate() is truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


# 404: the index does not exist yet; 503: it was just created and its shard is not started yet
NOT_YET = (404, 503)


def consumed(group: str, topics: list[str]) -> bool:
    """Whether consumer group `group` has committed every message of `topics` written so far: the
    stages reading them have processed (and acked) all of it. Event counts in Elasticsearch do not
    say that: one agent (index_events) writes each events batch to Elasticsearch and only then routes
    it to the detectors, so the events can be in ES while their detect records are not yet sent."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP.split(","))
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP.split(","))
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(parts)
    finally:
        consumer.close()
        admin.close()
    return all(end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items())


def count(es: Elasticsearch, index: str) -> int:
    """Document count after a refresh (0 while the index does not exist or is not ready yet)."""
    es.options(ignore_status=NOT_YET).indices.refresh(index=index)
    result = es.options(ignore_status=NOT_YET).count(index=index)
    return int(result.get("count", 0)) if result else 0
