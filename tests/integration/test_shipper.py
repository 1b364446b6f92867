"""The shipper against the real broker: rotation (rename and copytruncate), kill -9, restart.

Every line must reach Kafka at least once, and after Elasticsearch's dedup by id exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

from kafka import KafkaConsumer

from tests.integration.conftest import BOOTSTRAP, count, wait_for


def line(n: int) -> bytes:
    return (
        json.dumps(
            {
                "timestamp": f"2026-11-30T08:{n // 6000 % 60:02d}:{n // 100 % 60:02d}.{n % 100:03d}Z",
                "user": f"line{n}@ws.example",
                "outcome": "success",
                "source_ip": "198.51.100.7",
            }
        ).encode()
        + b"\n"
    )


def append(path: Path, start: int, stop: int) -> None:
    with open(path, "ab") as out:
        for n in range(start, stop):
            out.write(line(n))


def raw_users(topic: str, want: set[str], timeout: float = 90) -> list[str]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
    )
    seen: list[str] = []

    def caught_up() -> bool:
        seen.extend(json.loads(m.value)["user"] for m in consumer)
        return want <= set(seen)

    wait_for(caught_up, timeout=timeout, interval=0.1, what=f"{len(want)} distinct lines on {topic}")
    consumer.close()
    return seen


def test_rotation_truncation_and_kill9_lose_nothing_and_double_nothing(stack, es):
    log = stack.workdir / "app.log"
    append(log, 0, 2000)
    assert stack.secmon("topics").returncode == 0
    env_args = ("ship", "--source", "app_signin", str(log))
    shipper = stack.start(*env_args, log_name="shipper-1")
    topic = f"{stack.prefix}-raw-app_signin"
    raw_users(topic, {f"line{n}@ws.example" for n in range(2000)})

    append(log, 2000, 3000)  # growth while tailing
    os.rename(log, log.with_suffix(".log.1"))  # rename rotation ...
    append(log.with_suffix(".log.1"), 3000, 3100)  # ... the writer still had the old file open
    append(log, 3100, 4000)  # ... then writes to the new one
    raw_users(topic, {f"line{n}@ws.example" for n in range(4000)})

    append(log, 4000, 6000)
    time.sleep(0.3)
    os.killpg(shipper.pid, signal.SIGKILL)  # crash mid-stream
    shipper.wait()
    append(log, 6000, 6500)  # written while the shipper was down
    stack.start(*env_args, log_name="shipper-2")
    raw_users(topic, {f"line{n}@ws.example" for n in range(6500)})

    shutil.copy(log, log.with_suffix(".log.2"))  # copytruncate rotation
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, 6500, 7000)
    seen = raw_users(topic, {f"line{n}@ws.example" for n in range(7000)})
    assert len(seen) >= 7000

    stack.start("worker", log_name="worker")
    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= 7000, timeout=180, what="7000 events indexed")
    time.sleep(3)
    assert count(es, f"{stack.prefix}-events-*") == 7000
    print(f"raw topic held {len(seen)} records for 7000 lines ({len(seen) - 7000} re-sent); Elasticsearch holds 7000")


def test_gzip_archive_is_shipped_once_and_resumable(stack):
    import gzip

    archive = stack.workdir / "app.log.3.gz"
    with gzip.open(archive, "wb") as out:
        for n in range(300):
            out.write(line(n))
    assert stack.secmon("topics").returncode == 0
    for _ in range(2):  # the second run finds the archive fully shipped and sends nothing
        done = stack.secmon("ship", "--once", "--source", "app_signin", str(archive))
        assert done.returncode == 0, done.stderr
    seen = raw_users(f"{stack.prefix}-raw-app_signin", {f"line{n}@ws.example" for n in range(300)})
    assert sorted(seen) == sorted(f"line{n}@ws.example" for n in range(300))
