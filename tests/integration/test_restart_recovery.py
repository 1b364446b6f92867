"""A worker restarted after a SIGKILL consumes everything, on the real broker (issue 19).

Worker 1 delivers a first batch of alerts and is SIGKILLed as soon as the delivery table has
state in its changelog, before it committed anything of the alerts topic. More alerts arrive;
worker 2 recovers the table from the changelog and must then deliver every alert, those from
before the kill and after it, within a bounded time after it said "Worker ready": each once by
id, each in Elasticsearch, the alerts topic committed to its end.

What went wrong (CI, now and then): when recovery has read the changelogs, Faust pauses every
partition and only then resumes the streams. A fetch waiting in that gap gets woken by any new
record, and aiokafka, handed Faust's now empty set of partitions, returns every buffered
record of every partition; Faust drops them (paused), and its seek back to the committed offsets
leaves the alerts partitions (nothing committed) past them: worker 2 sat ready and idle. Here
the gap is 1.5 s on every run (tests.integration.slow_recovery, as a busy event loop makes it)
and records arrive in it (a trickle of lines to the raw topics, which the worker dead-letters).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from tests.integration.conftest import BOOTSTRAP, consumed, count, produce_alerts, wait_for
from tests.unit.pipeline.delivery.factories import HOOK_PER_ALERT, SECRET, alert
from tests.unit.pipeline.delivery.loopback import LoopbackReceiver

CATCH_UP = 40  # seconds after "Worker ready": the backlog takes about 2 s on a quiet machine
GAP = "1.5"  # seconds between "Done reading from changelog topics" and the streams resuming


def committed(group: str, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP.split(","))
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def written(topic: str) -> bool:
    """Whether `topic` holds any record yet."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP.split(","))
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return bool(parts) and any(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def logged(path: Path, line: str) -> bool:
    return path.exists() and line in path.read_text(errors="replace")


def trickle(prefix: str, log: Path, stop: threading.Event) -> None:
    """From the start of worker 2's recovery: one line every 20 ms, each to a raw partition that
    had none, so the worker's fetch gets new records while its partitions are paused."""
    from pipeline.normalizers.registry import NORMALIZERS

    while not stop.is_set() and not logged(log, "Restoring state from changelog topics"):
        time.sleep(0.01)
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1)
    for topic, partition in [(f"{prefix}-raw-{s}", p) for s in sorted(NORMALIZERS) for p in range(4)]:
        if stop.is_set():
            break
        producer.send(topic, value=b"not a log line", partition=partition)
        producer.flush()
        time.sleep(0.02)
    producer.close()


def test_a_worker_killed_before_its_first_commit_consumes_everything_after_restart(stack, es):
    hook = LoopbackReceiver()
    stop = threading.Event()
    try:
        _run(stack, es, hook, stop)
    finally:
        stop.set()
        hook.close()


def _run(stack, es, hook: LoopbackReceiver, stop: threading.Event) -> None:
    routes = stack.workdir / "routes.yaml"
    routes.write_text(HOOK_PER_ALERT)
    env = {
        "SECMON_DELIVERY_ROUTES_FILE": str(routes),
        "SECMON_DELIVERY_TICK_SECONDS": "0.5",
        "SECMON_DELIVERY_RECEIVERS": json.dumps({"hook": {"kind": "webhook", "url": hook.url, "secret": SECRET}}),
    }
    topic = f"{stack.prefix}-alerts"
    worker = stack.start("worker", log_name="worker-1", env=env)
    wait_for(lambda: logged(stack.workdir / "worker-1.log", "Worker ready"), 180, 0.2, "worker 1 ready")
    first = [alert(user=f"a{i}") for i in range(40)]
    produce_alerts(topic, first)
    changelog = f"{stack.prefix}-secmon-delivery-groups-changelog"
    wait_for(lambda: written(changelog), timeout=60, interval=0.02, what="group state in the changelog")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    before = committed(stack.prefix, topic)
    print(f"worker 1 killed after {len(hook.webhook_ids())} deliveries; alerts committed: {before}")

    second = [alert(user=f"b{i}") for i in range(40)]
    produce_alerts(topic, second)
    log = stack.workdir / "worker-2.log"
    threading.Thread(target=trickle, args=(stack.prefix, log, stop), daemon=True).start()
    stack.start(GAP, "worker", log_name="worker-2", env=env, module="tests.integration.slow_recovery")
    wait_for(lambda: logged(log, "Worker ready"), timeout=180, interval=0.2, what="worker 2 ready")
    assert logged(log, "Done reading from changelog topics"), "worker 2 recovered no table: nothing was tested"
    started = time.monotonic()
    expected = {a.alert.id for a in first + second}
    wait_for(
        lambda: set(hook.webhook_ids()) >= expected,
        timeout=CATCH_UP,
        interval=0.2,
        what=f"every alert delivered by the restarted worker (alerts committed before it: {before})",
    )
    print(f"worker 2 delivered the backlog {time.monotonic() - started:.1f}s after it was ready")
    got = hook.webhook_ids()
    assert set(got) == expected
    assert all(len(ids) == 1 for ids in got.values()), "an alert was notified under two webhook-ids"
    wait_for(lambda: count(es, f"{stack.prefix}-alerts-*") == len(expected), timeout=CATCH_UP, what="every alert")
    wait_for(lambda: consumed(stack.prefix, [topic]), timeout=CATCH_UP, what="the alerts topic committed")
