"""Fault suite on a broker and node of its own: stop things mid-stream, then count what arrived.

    python -m bench.faults [--outage 60] [--events 20000] [--only kafka_restart,es_restart,...]

Starts its own Kafka and Elasticsearch with scripts/services.sh (own SECMON_SERVICES_DIR and
ports, never the shared pair). Each fault runs on a deployment of its own (the integration
suite's `Stack`, pointed at these services): a file that grows at --rate lines/s with a few
brute-force bursts in it, a shipper tailing it, one or two workers (product defaults for the
Kafka session), a loopback webhook receiver. The fault is injected mid-stream; then it waits
until Elasticsearch holds every event (or --settle s pass without progress) and checks by `_id`:
exactly N event documents, the alerts the embedded runner raises for the same file (each once),
every alert notified exactly once (one webhook-id per alert id), the dead letter empty.

Faults:
  kafka_restart     broker stopped --outage s and started again (shipper and worker running)
  es_restart        node stopped --outage s and started again
  worker_kill       two workers in one group, one SIGKILLed mid-stream; the other takes over
  worker_restart    the only worker SIGKILLed and started again at once
  worker_config     the worker restarted with a detector disabled and a param changed
  webhook_500       the receiver answers 500 from the start until --outage s after the first alert
  webhook_429       the same with 429 and Retry-After: 5
  webhook_timeout   the same, answering only after the request timeout (2 s)
  shipper_readonly  the shipper's state dir (a tmpfs) remounted read-only for 10 s
  shipper_diskfull  the shipper's state dir (a tmpfs) full for 10 s

Each row: recovered by itself (y/n), catch-up (s from the end of the fault until every event,
alert and notification arrived), stall (s from the end of the fault until the event count moved
again), expected, final, lost, doubled. Figures are from a shared 2-core machine: noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from kafka import KafkaAdminClient, KafkaConsumer

from bench.generate import START, benign, burst
from pipeline import embedded
from pipeline.settings import KafkaSettings, SecmonSettings
from tests.integration.conftest import Stack
from tests.unit.pipeline.delivery.factories import HOOK_PER_ALERT, SECRET
from tests.unit.pipeline.delivery.loopback import LoopbackReceiver

ROOT = Path(__file__).parents[1]
SERVICES = ROOT / "scripts" / "services.sh"
WEBHOOK_TIMEOUT_S = 2.0
LOG_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")


@dataclass
class Row:
    fault: str
    recovered: bool
    catch_up_s: float | None
    stall_s: float | None
    expected: int
    final: int
    alerts_expected: int
    alerts_final: int
    notified: int
    renotified: int
    dead_letters: int
    history_missing: int = 0
    note: str = ""

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.final) + max(0, self.alerts_expected - self.notified)

    @property
    def doubled(self) -> int:
        return max(0, self.final - self.expected) + self.renotified


class Services:
    """The suite's own broker and node (scripts/services.sh with its own dir and ports)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.env = {
            **os.environ,
            "SECMON_SERVICES_DIR": args.services_dir,
            "KAFKA_PORT": str(args.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(args.kafka_port + 1),
            "ES_PORT": str(args.es_port),
            "ES_TRANSPORT_PORT": str(args.es_port + 100),
            # a node restarted under load recovers every shard before it is yellow: minutes on 2 cores
            "ES_READY_TIMEOUT": str(args.ready_timeout),
            "KAFKA_READY_TIMEOUT": str(args.ready_timeout),
        }
        for k in ("SECMON_KAFKA_BOOTSTRAP", "SECMON_ES_URL", "SECMON_SERVICES_SECURE"):
            self.env.pop(k, None)
        self.bootstrap = f"127.0.0.1:{args.kafka_port}"
        self.es_url = f"http://127.0.0.1:{args.es_port}"

    def run(self, *cmd: str) -> None:
        subprocess.run(["bash", str(SERVICES), *cmd], env=self.env, check=True, stdout=subprocess.DEVNULL)


@dataclass
class Run:
    """One fault's deployment (a Stack on the suite's services) and what the fault left to check."""

    name: str
    args: argparse.Namespace
    services: Services
    es: Elasticsearch
    stack: Stack
    hook: LoopbackReceiver
    workers: list[subprocess.Popen] = field(default_factory=list)
    shipper: subprocess.Popen | None = None
    fed: threading.Event = field(default_factory=threading.Event)
    fault_end: float = 0.0
    fault_wall: float = 0.0  # time.time() at the end of the fault, for log timestamps
    timeline: str = ""  # the log name of the worker whose rebalance and recovery are timed
    note: str = ""
    exact_alerts: bool = True  # False once the configuration changed what is detected
    restarted: bool = False  # the bench had to start something again: not recovered by itself

    @property
    def input(self) -> Path:
        return self.stack.workdir / "signins.jsonl"

    @property
    def state(self) -> Path:
        return self.stack.workdir / "shipper-state"

    def ended(self) -> None:
        """The fault is over now: catch-up and stall are measured from here."""
        self.fault_end, self.fault_wall = time.monotonic(), time.time()

    def worker(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        proc = self.stack.start("worker", log_name=name, env=env)
        self.workers.append(proc)
        return proc

    def ship(self, name: str = "shipper") -> None:
        self.shipper = self.stack.start("ship", "--source", "app_signin", str(self.input), log_name=name)

    def feed(self, lines: list[bytes], rate: int) -> None:
        """Append the lines at `rate` per second (a log file growing while everything runs)."""

        def run() -> None:
            with self.input.open("ab") as out:
                step = max(1, rate // 10)
                for i in range(0, len(lines), step):
                    out.write(b"".join(lines[i : i + step]))
                    out.flush()
                    time.sleep(0.1)
            self.fed.set()

        self.input.touch()
        threading.Thread(target=run, daemon=True).start()


def records(total: int, bursts: int = 5) -> list[dict]:
    """`total` sign-ins in time order: benign traffic and `bursts` brute-force bursts spread over it
    (each from its own IP against its own user), so a fault mid-stream has alerts on both sides."""
    size = 30
    rows = list(benign(total - bursts * size))
    for b in range(bursts):
        at = START + timedelta(milliseconds=100 * total * (b + 1) // (bursts + 1))
        rows += burst(size, f"victim{b}@ws1.example", f"185.220.101.{40 + b}", at)
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def es_count(es: Elasticsearch, index: str) -> int:
    try:
        es.options(ignore_status=(404, 503)).indices.refresh(index=index)
        result = es.options(ignore_status=(404, 503)).count(index=index)
        return int(result.get("count", 0)) if result else 0
    except Exception:  # noqa: BLE001 - the node may be down right now (that is the fault)
        return -1


def dead_letters(bootstrap: str, topic: str) -> Counter[str]:
    """The dead-letter topic's letters by "stage/error_code: reason" (the reason cut short)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    kinds: Counter[str] = Counter()
    for message in consumer:
        letter = json.loads(message.value)
        kinds[f"{letter.get('stage')}/{letter.get('error_code')}: {str(letter.get('reason'))[:60]}"] += 1
    consumer.close()
    return kinds


def history_missing(es: Elasticsearch, prefix: str, pages: dict[str, set[str]]) -> int:
    """Accepted notifications (webhook-ids) without exactly one `delivered` attempt document in the
    notification history (`_id` = `<notification id>-<attempt>`, so a replay overwrites, never adds)."""
    sent = set().union(*pages.values()) if pages else set()
    if not sent:
        return 0
    index = f"{prefix}-notifications-*"
    if es_count(es, index) <= 0:
        return len(sent)
    query = {"bool": {"filter": [{"term": {"kind": "attempt"}}, {"term": {"outcome": "delivered"}}]}}
    delivered: Counter[str] = Counter()
    for hit in scan(es, index=index, query={"query": query}, _source=["notification_id"]):
        delivered[hit["_source"]["notification_id"]] += 1
    return sum(1 for webhook_id in sent if delivered[webhook_id] != 1)


def wait_events(run: Run, total: int) -> tuple[int, float | None, float | None]:
    """Wait until all `total` events are indexed, or nothing moved for --settle s after the feed
    ended; (final, time all were indexed or None, time the count first moved after the fault)."""
    index = f"{run.stack.prefix}-events-*"
    at_fault_end = max(0, es_count(run.es, index))
    last, last_change, moved = -2, time.monotonic(), None
    while True:
        n = es_count(run.es, index)
        if moved is None and n > at_fault_end:
            moved = time.monotonic()
        if n >= total:
            return n, time.monotonic(), moved or time.monotonic()
        if n != last:
            last, last_change = n, time.monotonic()
        if time.monotonic() - last_change > run.args.settle and run.fed.is_set():
            return max(n, 0), None, moved
        time.sleep(0.5)


def wait_until(predicate: Callable[[], bool], timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.5)
    return None


# -- the faults: each injects its fault mid-stream, sets run.fault_end and may add to run.note --


def outage(service: str) -> Callable[[Run], None]:
    def fault(run: Run) -> None:
        run.services.run("down", service)
        time.sleep(run.args.outage)
        began = time.monotonic()
        run.services.run("up", service)
        run.ended()
        run.note = f"{service} ready {run.fault_end - began:.0f} s after its start; "
        run.timeline = "worker-1"

    return fault


def worker_kill(run: Run) -> None:
    os.killpg(run.workers[0].pid, signal.SIGKILL)
    run.workers[0].wait()
    run.ended()
    run.timeline = "worker-2"


def worker_restart(run: Run) -> None:
    worker_kill(run)
    run.worker("worker-2")
    run.timeline = "worker-2"


def timeline(log: Path, since: float) -> str:
    """When the worker was assigned its partitions, recovered its table and was ready (s after
    `since`, a wall-clock time), from its log: where a catch-up stall goes."""
    marks = {"assigned": "Executing _on_partitions_assigned", "recovered": "Recovery complete", "ready": "Worker ready"}
    seen: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        stamp = LOG_TIME.search(line)  # Faust's spinner leaves terminal escapes before some lines
        for mark, text in marks.items():
            if text in line and mark not in seen and stamp:
                at = datetime.strptime(stamp[0], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc).timestamp()
                if at >= since:
                    seen[mark] = at - since
    return ", ".join(f"{m} +{seen[m]:.0f}s" for m in marks if m in seen)


def worker_config(run: Run) -> None:
    first = run.workers[0]
    os.killpg(first.pid, signal.SIGTERM)
    try:
        first.wait(60)
    except subprocess.TimeoutExpired:  # a finding in itself: reported in the row's note
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        run.note = "worker did not stop within 60 s of SIGTERM (SIGKILLed); "
    changed = {"signin_bruteforce_ip": {"enabled": False}, "signin_bruteforce_user": {"params": {"threshold": 8}}}
    run.worker("worker-2", env={"SECMON_DETECTION_DETECTORS": json.dumps(changed)})
    run.ended()
    run.note += "bruteforce_ip off, user threshold 8; "
    run.timeline = "worker-2"
    run.exact_alerts = False


def webhook(behaviour: str) -> Callable[[Run], None]:
    def fault(run: Run) -> None:
        began = time.time()  # from before the first alert (FAULT_AT): every notification meets the fault
        run.hook.behaviour, run.hook.fail, run.hook.delay = behaviour, 10**9, WEBHOOK_TIMEOUT_S + 3
        wait_until(lambda: es_count(run.es, f"{run.stack.prefix}-alerts-*") > 0, run.args.settle)
        time.sleep(run.args.outage)
        run.hook.behaviour = "ok"
        run.ended()
        failed = sum(1 for h in list(run.hook.hits) if h.at >= began)
        run.note = f"{failed} requests failed during the fault"

    return fault


def shipper_state(kind: str) -> Callable[[Run], None]:
    """The state dir is a tmpfs (see _mount_state): remounted read-only, or filled, for 10 s."""

    def fault(run: Run) -> None:
        wait_until(lambda: any(run.state.iterdir()), 60)  # the shipper has saved a position: it is shipping
        filler = run.state / "filler"
        if kind == "readonly":
            subprocess.run(["mount", "-o", "remount,ro", str(run.state)], check=True)
        else:
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], check=False, capture_output=True)
        time.sleep(10)
        assert run.shipper is not None
        alive = run.shipper.poll() is None
        log = (run.stack.workdir / "shipper.log").read_text(errors="replace").strip().splitlines()
        errors = [line for line in log if "ERROR" in line or "Error" in line]
        last = (errors or log or [""])[-1]
        run.note = f"shipper {'kept running' if alive else f'exited {run.shipper.returncode}'}: {last[:160]}"
        if kind == "readonly":
            subprocess.run(["mount", "-o", "remount,rw", str(run.state)], check=True)
        else:
            filler.unlink()
        if not alive:
            run.ship("shipper-2")
            run.restarted = True
            run.note += "; the bench started it again"
        run.ended()

    return fault


# when each fault starts: the share of the events indexed by then (a receiver fails from the start
# and stays failing --outage s after the first alert; the shipper's state dir fails while it ships;
# the rest strike mid-stream)
FAULT_AT = {
    name: 0.0 for name in ("webhook_500", "webhook_429", "webhook_timeout", "shipper_readonly", "shipper_diskfull")
}
FAULTS: dict[str, Callable[[Run], None]] = {
    "kafka_restart": outage("kafka"),
    "es_restart": outage("es"),
    "worker_kill": worker_kill,
    "worker_restart": worker_restart,
    "worker_config": worker_config,
    "webhook_500": webhook("flaky"),
    "webhook_429": webhook("ratelimit"),
    "webhook_timeout": webhook("slow"),
    "shipper_readonly": shipper_state("readonly"),
    "shipper_diskfull": shipper_state("full"),
}


def run_fault(name: str, args: argparse.Namespace, services: Services, es: Elasticsearch) -> Row:
    prefix = f"flt{uuid.uuid4().hex[:8]}"
    workdir = args.workdir / prefix
    workdir.mkdir(parents=True)
    routes = workdir / "routes.yaml"
    routes.write_text(HOOK_PER_ALERT)
    hook = LoopbackReceiver(retry_after=5)
    receivers = {"hook": {"kind": "webhook", "url": hook.url, "secret": SECRET, "timeout_seconds": WEBHOOK_TIMEOUT_S}}
    stack = Stack(
        prefix=prefix,
        workdir=workdir,
        bootstrap=services.bootstrap,
        es_url=services.es_url,
        extra_env={
            # the product's own session timeout: catch-up after a kill is part of what is measured
            "SECMON_KAFKA_SESSION_TIMEOUT_SECONDS": str(KafkaSettings.model_fields["session_timeout_seconds"].default),
            "SECMON_SHIPPER_POLL_SECONDS": "0.2",
            "SECMON_SHIPPER_BATCH_SIZE": "500",
            "SECMON_DELIVERY_ROUTES_FILE": str(routes),
            "SECMON_DELIVERY_RECEIVERS": json.dumps(receivers),
            "SECMON_DELIVERY_RETRY": json.dumps({"max_backoff_seconds": 10}),
        },
    )
    run = Run(name, args, services, es, stack, hook)
    mounted = name.startswith("shipper_")
    try:
        if mounted:
            run.state.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(run.state)], check=True)
        return _run_fault(run)
    finally:
        stack.stop_all()
        hook.close()
        if mounted:
            subprocess.run(["umount", str(run.state)], check=False)
        drop(services, es, prefix)


def drop(services: Services, es: Elasticsearch, prefix: str) -> None:
    """Delete a row's indices, templates and topics: what the next restart would recover is what
    the next row wrote, not every row before it."""
    es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
    admin = KafkaAdminClient(bootstrap_servers=services.bootstrap)
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
    finally:
        admin.close()


def _run_fault(run: Run) -> Row:
    args, stack = run.args, run.stack
    rows = records(args.events)
    lines = [json.dumps(r).encode() + b"\n" for r in rows]
    full = stack.workdir / "all.jsonl"
    full.write_bytes(b"".join(lines))
    expected_alerts = {a.alert.id for a in embedded.run([str(full)], SecmonSettings()).alerts.values()}
    topics = stack.secmon("topics")
    assert topics.returncode == 0, f"secmon topics failed: {topics.stderr[-500:]}"
    run.worker("worker-1")
    if run.name == "worker_kill":
        run.worker("worker-2")
    time.sleep(15 if run.name == "worker_kill" else 5)
    run.ship()
    run.feed(lines, args.rate)
    index, alerts_index = f"{stack.prefix}-events-*", f"{stack.prefix}-alerts-*"
    while es_count(run.es, index) < args.events * FAULT_AT.get(run.name, 0.25):  # mid-stream
        time.sleep(0.5)
    FAULTS[run.name](run)
    final, events_at, moved_at = wait_events(run, args.events)
    if run.timeline:
        run.note += f"{run.timeline}: {timeline(stack.workdir / f'{run.timeline}.log', run.fault_wall)}; "

    def arrived() -> bool:
        if not run.exact_alerts:  # the changed configuration raises other alerts: nothing to wait for
            return True
        return es_count(run.es, alerts_index) >= len(expected_alerts) and set(run.hook.webhook_ids()) >= expected_alerts

    done_at = wait_until(arrived, args.settle) if events_at else None  # alerts and pages trail the events
    time.sleep(3)
    final = es_count(run.es, index)
    hits = run.es.search(index=alerts_index, size=1000)["hits"]["hits"] if es_count(run.es, alerts_index) > 0 else []
    got = [h["_id"] for h in hits]
    pages = run.hook.webhook_ids()
    if run.exact_alerts:
        alerts_ok = set(got) == expected_alerts and len(got) == len(set(got))
    else:  # after the change some alerts legitimately differ: count only duplicates
        time.sleep(30)  # let the alerts of the last events arrive
        got = [h["_id"] for h in run.es.search(index=alerts_index, size=1000)["hits"]["hits"]]
        wait_until(lambda: set(run.hook.webhook_ids()) >= set(got), args.settle)  # and their notifications
        pages = run.hook.webhook_ids()
        alerts_ok = len(got) == len(set(got))
        expected_alerts = set(got)
    renotified = sum(len(ids) - 1 for ids in pages.values())
    wait_until(lambda: history_missing(run.es, stack.prefix, pages) == 0, 60)  # history trails the pages
    missing_history = history_missing(run.es, stack.prefix, pages)
    if missing_history:
        run.note += f" {missing_history} notifications without one delivered history record;"
    letters = dead_letters(run.services.bootstrap, f"{stack.prefix}-deadletter")
    dead = sum(letters.values())
    run.note += "".join(f" dead letters: {n} x {kind};" for kind, n in letters.items())
    if not alerts_ok:
        run.note += f" alerts differ: got {len(got)} want {len(expected_alerts)}"
    n_notified = len(set(pages) & expected_alerts)
    recovered = bool(done_at) and final == args.events and alerts_ok and dead == 0 and renotified == 0
    recovered = recovered and n_notified == len(expected_alerts) and not run.restarted and not missing_history
    return Row(
        run.name,
        recovered,
        None if not done_at else round(max(done_at, events_at or 0) - run.fault_end, 1),
        None if moved_at is None else round(max(0.0, moved_at - run.fault_end), 1),
        args.events,
        final,
        len(expected_alerts),
        len(got),
        n_notified,
        renotified,
        dead,
        missing_history,
        run.note.strip(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=60, help="seconds a service or receiver stays down")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=500, help="lines/s appended to the shipped file")
    parser.add_argument("--settle", type=float, default=240, help="give up after this many s without progress")
    parser.add_argument("--only", default=",".join(FAULTS))
    parser.add_argument("--services-dir", default="/var/lib/secmon-services-faults")
    parser.add_argument("--kafka-port", type=int, default=9096)
    parser.add_argument("--es-port", type=int, default=9202)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/secmon-faults"))
    parser.add_argument(
        "--ready-timeout", type=int, default=600, help="s a restarted broker or node may take to be ready"
    )
    parser.add_argument("--keep-services", action="store_true", help="leave the suite's services running")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; choose from {', '.join(FAULTS)}")
    services = Services(args)
    services.run("up")
    es = Elasticsearch(services.es_url, request_timeout=30)
    rows = []
    try:
        for name in args.only.split(","):
            print(f"faults: {name} ...", flush=True)
            rows.append(run_fault(name, args, services, es))
            print(f"faults: {rows[-1]}", flush=True)
    finally:
        if not args.keep_services:
            services.run("down")
    print_table(rows)
    return 0 if all(r.recovered for r in rows) else 1


def print_table(rows: list[Row]) -> None:
    print(
        f"\n{'fault':17} {'recovered':9} {'catch-up s':>10} {'stall s':>7} {'expected':>8} {'final':>8} {'lost':>4} "
        f"{'doubled':>7} {'alerts':>7} {'notified':>8} {'history':>7} {'dead':>4}  note"
    )
    for r in rows:
        print(
            f"{r.fault:17} {'y' if r.recovered else 'n':9} {str(r.catch_up_s):>10} {str(r.stall_s):>7} "
            f"{r.expected:>8} {r.final:>8} {r.lost:>4} {r.doubled:>7} {f'{r.alerts_final}/{r.alerts_expected}':>7} "
            f"{f'{r.notified}/{r.alerts_expected}':>8} {f'-{r.history_missing}' if r.history_missing else 'ok':>7} "
            f"{r.dead_letters:>4}  {r.note}"
        )


if __name__ == "__main__":
    sys.exit(main())
