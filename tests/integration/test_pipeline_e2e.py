"""The thin slice end to end on the real broker and node: ship -> worker -> Elasticsearch.

10,000 sign-ins including a brute-force burst; the worker is SIGKILLed halfway and restarted;
Elasticsearch must end with exactly 10,000 event documents and the alerts the embedded runner
raises for the same file (same ids: one core, two runtimes).
"""

from __future__ import annotations

import os
import signal

from bench.generate import with_burst, write_jsonl
from pipeline import embedded
from pipeline.settings import SecmonSettings
from tests.integration.conftest import count, wait_for

TOTAL = 10_000


def test_ten_thousand_signins_survive_a_worker_kill(stack, es):
    path = stack.workdir / "signins.jsonl"
    write_jsonl(with_burst(TOTAL), path)
    assert stack.secmon("topics").returncode == 0
    shipped = stack.secmon("ship", "--once", "--source", "app_signin", str(path))
    assert shipped.returncode == 0, shipped.stderr

    events_index = f"{stack.prefix}-events-*"
    worker = stack.start("worker", log_name="worker-1")
    wait_for(lambda: count(es, events_index) >= TOTAL // 3, timeout=180, interval=0.3, what="first third indexed")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = count(es, events_index)
    assert killed_at < TOTAL, "the worker finished before it could be killed; the test proves nothing"

    stack.start("worker", log_name="worker-2")
    wait_for(lambda: count(es, events_index) >= TOTAL, timeout=240, what=f"{TOTAL} events indexed")
    expected = embedded.run([str(path)], SecmonSettings()).alerts
    alerts_index = f"{stack.prefix}-alerts-*"
    wait_for(lambda: count(es, alerts_index) >= len(expected), timeout=120, what="alerts indexed")

    assert count(es, events_index) == TOTAL
    hits = es.search(index=alerts_index, size=100)["hits"]["hits"]
    got = {h["_id"]: (h["_source"]["rule"]["id"], h["_source"]["alert"]["dedup_key"]) for h in hits}
    assert got == {a.alert.id: (a.rule.id, a.alert.dedup_key) for a in expected.values()}
    assert ("signin_bruteforce_user", "victim@ws1.example") in got.values()
    assert ("signin_bruteforce_ip", "185.220.101.45") in got.values()
    print(f"killed the worker at {killed_at} of {TOTAL} documents; after restart exactly {TOTAL}")
