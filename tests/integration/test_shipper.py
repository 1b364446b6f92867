"""The shipper against the real broker: rotation (rename and copytruncate), kill -9, restart.

Every line must reach Kafka at least once, and after Elasticsearch's dedup by id exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

from kafka import KafkaConsumer

from pipeline.shipper_positions import PositionStore
from tests.integration.conftest import BOOTSTRAP, consumed, count, wait_for


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
    # every raw record and event read and committed: a re-sent line indexed twice would be counted now
    stages = [topic, f"{stack.prefix}-events"]
    wait_for(lambda: consumed(stack.prefix, stages), timeout=120, interval=0.5, what="every record consumed")
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


def test_a_shipper_upgraded_in_place_resumes_where_the_old_one_stopped(stack):
    """A read position as the version-1 shipper saved it (after lines 0..119 were acknowledged):
    the upgraded shipper sends lines 120..299, each once, under the file id the old one gave."""
    log = stack.workdir / "app.log"
    append(log, 0, 300)
    offset = sum(len(line(n)) for n in range(120))
    with open(log, "rb") as f:
        fingerprint = hashlib.blake2b(f.read(256), digest_size=6).hexdigest()  # version 1's digest
    inode = os.stat(log).st_ino
    saved = {"path": str(log), "inode": inode, "fingerprint": fingerprint, "generation": 0, "offset": offset}
    store = PositionStore(stack.workdir / "shipper-state")
    store._file(str(log)).write_text(json.dumps(saved | {"header": None}))  # the version-1 layout
    assert stack.secmon("topics").returncode == 0

    done = stack.secmon("ship", "--once", "--source", "app_signin", str(log))
    assert done.returncode == 0, done.stderr
    records = raw_records(f"{stack.prefix}-raw-app_signin", want=180)
    assert sorted(json.loads(value)["user"] for value, _ in records) == sorted(
        f"line{n}@ws.example" for n in range(120, 300)
    )
    assert {origin["file_id"] for _, origin in records} == {f"{inode:x}-{fingerprint}-0"}
    assert stack.secmon("ship", "--once", "--source", "app_signin", str(log)).returncode == 0
    assert len(raw_records(f"{stack.prefix}-raw-app_signin", want=180)) == 180  # nothing more on a re-run


def test_a_truncated_archive_ships_its_readable_part_and_one_dead_letter(stack):
    import gzip

    archive = stack.workdir / "app.log.4.gz"
    packed = gzip.compress(b"".join(line(n) for n in range(2000)))
    archive.write_bytes(packed[: len(packed) * 2 // 3])  # the copy was cut short
    assert stack.secmon("topics").returncode == 0
    done = stack.secmon("ship", "--once", "--source", "app_signin", str(archive))
    assert done.returncode == 0, done.stderr
    (dead,) = raw_records(f"{stack.prefix}-deadletter", want=1)
    letter = json.loads(dead[0])
    assert letter["error_code"] == "truncated_input" and "gzip -t" in letter["reason"]
    shipped = [value for value, _ in raw_records(f"{stack.prefix}-raw-app_signin", want=1)]
    whole = shipped if shipped[-1].endswith(b"}") else shipped[:-1]  # the cut line itself, as far as it goes
    assert 0 < len(whole) < 2000 and whole == [line(n).rstrip(b"\n") for n in range(len(whole))]


def raw_records(topic: str, want: int, timeout: float = 90) -> list[tuple[bytes, dict]]:
    """(value, origin header) of every message of a topic, once at least `want` arrived."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
    )
    seen: list[tuple[bytes, dict]] = []

    def arrived() -> bool:
        for m in consumer:
            headers = dict(m.headers or [])
            seen.append((m.value, json.loads(headers["secmon-origin"]) if "secmon-origin" in headers else {}))
        return len(seen) >= want

    wait_for(arrived, timeout=timeout, interval=0.1, what=f"{want} messages on {topic}")
    consumer.close()
    return seen
