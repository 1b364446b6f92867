"""A worker stopped (SIGTERM, gracefully) while Elasticsearch is unreachable loses nothing.

The worker talks to the real node through a TCP relay the test can cut. 100 sign-ins are indexed;
the relay is cut; 200 more arrive and the index agent keeps retrying them; the worker is asked to
stop mid-retry and exits without committing that batch. Restarted with the relay back,
Elasticsearch must hold exactly the 300 documents: the batch was read again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

from tests.integration.conftest import ES_URL, count, free_port, wait_for


class Relay:
    """A TCP relay to Elasticsearch; `cut()` drops every connection and refuses new ones until `mend()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.up, self.port = target, threading.Event(), free_port()
        self.up.set()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up.clear()
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open.clear()

    def mend(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.server.close()


def signins(start: int, n: int) -> str:
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    return "".join(
        json.dumps(
            {
                "timestamp": (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "user": f"user{i % 50}@ws-a.example",
                "workspace": "ws-a",
                "outcome": "success",
                "source_ip": f"81.2.69.{i % 200}",
                "mfa_used": True,
            }
        )
        + "\n"
        for i in range(start, start + n)
    )


def test_a_graceful_stop_while_elasticsearch_is_down_loses_no_batch(stack, es):
    host, port = ES_URL.split("//", 1)[-1].rstrip("/").rsplit(":", 1)
    relay = Relay((host, int(port)))
    env = {"SECMON_ES_URL": f"http://127.0.0.1:{relay.port}"}
    index = f"{stack.prefix}-events-*"
    try:
        worker = stack.start("worker", log_name="worker-1", env=env)
        first = stack.workdir / "first.jsonl"
        first.write_text(signins(0, 100))
        assert stack.secmon("ship", "--once", "--source", "app_signin", str(first)).returncode == 0
        wait_for(lambda: count(es, index) == 100, timeout=120, interval=0.5, what="the first 100 indexed")

        relay.cut()
        second = stack.workdir / "second.jsonl"
        second.write_text(signins(100, 200))
        assert stack.secmon("ship", "--once", "--source", "app_signin", str(second)).returncode == 0
        log = stack.workdir / "worker-1.log"
        wait_for(
            lambda: "Elasticsearch write of" in log.read_text(errors="replace"),
            timeout=60,
            interval=0.5,
            what="the worker retrying a batch against the cut relay",
        )
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(90) == 75  # EX_TEMPFAIL: stopped with a batch not in Elasticsearch
        assert "exiting without committing them" in log.read_text(errors="replace")
        assert count(es, index) == 100

        relay.mend()
        # the exited worker stays a group member until its session times out (6 s here): start after that,
        # so the new worker gets every partition in one assignment instead of two rebalances
        time.sleep(8)
        stack.start("worker", log_name="worker-2", env=env)
        wait_for(lambda: count(es, index) >= 300, timeout=180, interval=0.5, what="all 300 indexed after the restart")
        assert count(es, index) == 300
    finally:
        relay.close()
