"""Bad input reaches the dead-letter topic with its reason and origin; the stream keeps going."""

from __future__ import annotations

import json
import urllib.request

from kafka import KafkaConsumer

from bench.generate import benign
from tests.integration.conftest import BOOTSTRAP, count, free_port, wait_for


def read_topic(topic: str, expected: int, timeout_s: float = 60) -> list[dict]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    records: list[dict] = []
    wait_for(
        lambda: records.extend(json.loads(m.value) for m in consumer) or len(records) >= expected,
        timeout=timeout_s,
        interval=0.1,
        what=f"{expected} records on {topic}",
    )
    consumer.close()
    return records


def test_bad_lines_are_dead_lettered_and_good_lines_indexed(stack, es):
    good = [json.dumps(row).encode() for row in benign(200)]
    bad = {
        "invalid_json": b'{"timestamp": "2026-11-30T08:00:00Z", "user": "x@y.example", ',
        "invalid_field": b'{"timestamp": "2026-11-30T08:00:00Z", "user": "x@y.example", "outcome": 7, "source_ip": "192.0.2.1"}',
        "invalid_utf8": b'{"timestamp": "2026-11-30T08:00:00Z", "user": "\xff\xfe", "outcome": "success", "source_ip": "192.0.2.1"}',
        "too_large": b'{"user": "' + b"A" * (5 * 1024 * 1024) + b'"}',
    }
    lines = good[:100] + list(bad.values()) + good[100:]
    path = stack.workdir / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    assert stack.secmon("topics").returncode == 0
    shipped = stack.secmon("ship", "--once", "--source", "app_signin", str(path))
    assert shipped.returncode == 0, shipped.stderr
    port = free_port()
    stack.start("worker", log_name="worker", env={"SECMON_METRICS_PORT": str(port)})

    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= len(good), timeout=180, what="good lines indexed")
    dead = read_topic(f"{stack.prefix}-deadletter", expected=len(bad))
    assert sorted(d["error_code"] for d in dead) == sorted(bad)
    by_code = {d["error_code"]: d for d in dead}
    assert by_code["too_large"]["stage"] == "ship" and by_code["too_large"]["original_size"] > 1024 * 1024
    assert "outcome" in by_code["invalid_field"]["reason"]
    assert all(d["origin"]["file"] == str(path) and d["origin"]["offset"] is not None for d in dead)
    assert count(es, f"{stack.prefix}-events-*") == len(good)
    # the worker also indexes them (the Pipeline dashboard and docs/queries.md read this index)
    wait_for(lambda: count(es, f"{stack.prefix}-deadletter") >= len(bad), timeout=60, what="dead letters indexed")
    hits = es.search(index=f"{stack.prefix}-deadletter", size=10)["hits"]["hits"]
    assert sorted(h["_source"]["error_code"] for h in hits) == sorted(bad)
    assert all(h["_index"].startswith(f"{stack.prefix}-deadletter-") for h in hits)

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for code in ("invalid_json", "invalid_field", "invalid_utf8"):
        assert f'secmon_dead_letters_total{{error_code="{code}",stage="normalize"}} 1.0' in metrics
    assert f'secmon_events_in_total{{source="app_signin",stage="normalize"}} {len(good) + 3}.0' in metrics
    assert f'secmon_es_writes_total{{kind="event",outcome="written"}} {len(good)}.0' in metrics
    assert f'secmon_es_writes_total{{kind="deadletter",outcome="written"}} {len(bad)}.0' in metrics
