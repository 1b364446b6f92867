"""SIGTERM stops a busy Faust worker in bounded time, and a restarted worker loses and doubles nothing.

A shipper follows a growing file, so the worker's agents hold batches (take_events buffers) when the
signal comes. The worker must exit 0 within STOP_BOUND seconds; what it had in hand but not finished
is left uncommitted and redone by the next worker (deterministic ids: no doubles).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from tests.integration.conftest import consumed, count, wait_for
from tests.integration.test_shipper import line

TOTAL = 3000
RATE = 300  # lines/s appended while the worker runs
STOP_BOUND = 30.0  # s a SIGTERMed worker may take to exit


def _feed(path, start: int, stop: int, done: threading.Event) -> None:
    step = RATE // 10
    with open(path, "ab") as out:
        for n in range(start, stop, step):
            out.write(b"".join(line(i) for i in range(n, min(stop, n + step))))
            out.flush()
            time.sleep(0.1)
    done.set()


def _streaming(stack, es):
    """One worker and a shipper on a file fed TOTAL sign-ins in the background, once it indexes."""
    path = stack.workdir / "signins.jsonl"
    path.touch()
    assert stack.secmon("topics").returncode == 0
    index = f"{stack.prefix}-events-*"
    worker = stack.start("worker", log_name="worker-1")
    stack.start("ship", "--source", "app_signin", str(path), log_name="ship")
    fed = threading.Event()
    threading.Thread(target=_feed, args=(path, 0, TOTAL, fed), daemon=True).start()
    wait_for(lambda: count(es, index) >= 300, timeout=180, interval=0.2, what="the worker indexing the stream")
    return index, fed, worker


def test_sigterm_stops_a_busy_worker_in_bounded_time_and_a_restart_loses_nothing(stack, es):
    index, fed, worker = _streaming(stack, es)
    os.killpg(worker.pid, signal.SIGTERM)  # mid-stream: agents hold batches right now
    signalled = time.monotonic()
    try:
        code = worker.wait(STOP_BOUND)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        code = None
    took = time.monotonic() - signalled
    stopped_at = count(es, index)
    assert code == 0, f"SIGTERM did not stop the worker cleanly within {STOP_BOUND:.0f} s (exit {code})"
    assert stopped_at < TOTAL, "the stream ended before the stop: the test proves nothing"

    fed.wait(60)
    stack.start("worker", log_name="worker-2")
    wait_for(lambda: count(es, index) >= TOTAL, timeout=180, interval=0.5, what=f"all {TOTAL} events indexed")
    topics = [f"{stack.prefix}-{t}" for t in ("raw-app_signin", "events", "detect")]
    wait_for(lambda: consumed(stack.prefix, topics), timeout=60, interval=1.0, what="every offset committed")
    assert count(es, index) == TOTAL
    print(f"stopped in {took:.1f} s at {stopped_at} of {TOTAL} documents; after the restart exactly {TOTAL}")


def test_a_worker_paused_past_its_session_rejoins_catches_up_and_still_stops(stack, es):
    """SIGSTOP past the session timeout: the group drops the worker, and on SIGCONT it revokes its
    partitions (the same emptied queues and wait as a stop) and joins again. It must not wait forever
    for the events it dropped: it catches up alone, then stops on SIGTERM."""
    index, fed, worker = _streaming(stack, es)
    os.killpg(worker.pid, signal.SIGSTOP)
    time.sleep(12)  # past the 6 s session of the Stack: the coordinator drops the member
    paused_at = count(es, index)
    os.killpg(worker.pid, signal.SIGCONT)
    assert paused_at < TOTAL, "the stream ended before the pause: the test proves nothing"

    wait_for(lambda: count(es, index) >= TOTAL, timeout=180, interval=0.5, what=f"all {TOTAL} events indexed")
    topics = [f"{stack.prefix}-{t}" for t in ("raw-app_signin", "events", "detect")]
    wait_for(lambda: consumed(stack.prefix, topics), timeout=60, interval=1.0, what="every offset committed")
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(STOP_BOUND) == 0
    assert count(es, index) == TOTAL
    rejoined = "Executing _on_partitions_assigned"
    assigned = (stack.workdir / "worker-1.log").read_text(errors="replace").count(rejoined)
    print(f"paused at {paused_at} of {TOTAL}; {assigned} assignments; exactly {TOTAL} after catching up")
