"""Scale (c): the end-to-end worker against a raw `_bulk` loop of the same documents, same node.

    python -m bench.scale_e2e [--events 60000] [--users 1000]     (or: python -m bench.scale --only e2e)

One month of app sign-ins (`bench.scale.month_signins`) is written to a file and:

1. shipped with `secmon ship --once` into a fresh topic prefix (the shipper's rate is printed);
2. indexed by a `secmon worker` started afterwards, which reads the backlog from the earliest
   offset and runs every agent as in production (normalize -> events topic -> index into ES, and
   route -> detect -> alerts alongside, in the same process). Its indexing rate is the events it
   indexed between the first and the last poll of `_stats/indexing` that showed progress (every
   0.2 s, no refresh needed) over that time, so the worker's start-up is not counted, nor is
   its CPU (measured between the same two polls);
3. normalized here with the same settings into the same documents (same ids, same indices), which
   a plain loop of `_bulk` create requests of `es.bulk_max_docs` writes into another fresh prefix,
   once before and once after the worker; the better of the two counts (the stricter ratio).

Everything shares the machine (broker, node, worker, this process, other users): the figures are
noisy, so the worker's CPU time per 1,000 events is printed too. Prints figures, asserts
nothing, and deletes the topics and indices it made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).parents[1]
POLL = 0.2


def _env(prefix: str, workdir: Path, bootstrap: str, es_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECMON_")}
    env.update(
        {
            "SECMON_KAFKA_BOOTSTRAP": bootstrap,
            "SECMON_ES_URL": es_url,
            "SECMON_KAFKA_TOPIC_PREFIX": prefix,
            "SECMON_ES_INDEX_PREFIX": prefix,
            "SECMON_APP_ID": prefix,
            "SECMON_SHIPPER_STATE_DIR": str(workdir / "shipper-state"),
            "SECMON_LIFECYCLE_SCHEDULE": "false",
            "SECMON_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _secmon(env: dict[str, str], workdir: Path, *args: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", *args], env=env, cwd=workdir, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"bench: secmon {args[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def _indexed(es, pattern: str) -> int:
    stats = es.options(ignore_status=404).indices.stats(index=pattern, metric="indexing")
    return stats.get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total", 0) if stats else 0


def run_worker(
    env: dict[str, str], workdir: Path, path: Path, total: int, es, timeout: float, profile: str | None = None
) -> dict:
    """Ship the file, then start a worker on the backlog; its indexing rate into the events indices."""
    started = time.perf_counter()
    _secmon(env, workdir, "ship", "--once", "--source", "app_signin", str(path))
    ship_s = time.perf_counter() - started
    log = open(workdir / "worker.log", "wb")  # noqa: SIM115 - lives as long as the worker
    worker = subprocess.Popen(
        [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []), "-m", "pipeline", "worker"],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pattern = f"{env['SECMON_ES_INDEX_PREFIX']}-events-*"
    first = last = None  # (indexed, time, worker CPU seconds) at the first and the latest progress
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            n, now = _indexed(es, pattern), time.perf_counter()
            if n and (last is None or n > last[0]):
                last = (n, now, cpu_seconds(worker.pid))
                first = first or last
            if n >= total:
                break
            time.sleep(POLL)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
    if first is None or last is None or last[1] <= first[1]:
        tail = (workdir / "worker.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"bench: the worker indexed too little to measure ({last}):\n{tail}")
    done = last[0] - first[0]
    return {
        "ship_rate": total / ship_s,
        "indexed": last[0],
        "rate": done / (last[1] - first[1]),
        "cpu_ms_per_1k": (last[2] - first[2]) / done * 1e6,
    }


def same_documents(path: Path, prefix: str) -> list[tuple[str, str, dict]]:
    """(index, id, document) of every event the worker makes of the file, built here."""
    from pipeline.enrichers.registry import default_enrichers
    from pipeline.normalizers.app_signin import NORMALIZER
    from pipeline.process import process_record
    from pipeline.readers import read_records
    from pipeline.settings import SecmonSettings
    from pipeline.sinks.elasticsearch import event_index

    settings = SecmonSettings()
    enrichers, parse_options, limit = (
        default_enrichers(settings),
        settings.parse.options(),
        settings.parse.max_record_bytes,
    )
    docs = []
    for record in read_records(str(path), NORMALIZER, limit):
        for event in process_record(record, NORMALIZER, enrichers, parse_options, limit).events:
            docs.append((event_index(prefix, event), event.event.id, event.to_doc()))
    return docs


async def raw_bulk(es_url: str, prefix: str, docs: list[tuple[str, str, dict]]) -> float:
    """Events/s of a plain loop of `_bulk` create requests (bulk_max_docs each) of prepared documents."""
    from pipeline.settings import EsSettings
    from pipeline.sinks.elasticsearch import client, install_templates

    cfg = EsSettings(url=es_url, index_prefix=prefix)
    async with client(cfg) as es:
        await install_templates(es, prefix)
        started = time.perf_counter()
        for i in range(0, len(docs), cfg.bulk_max_docs):
            ops: list[dict] = []
            for index, doc_id, doc in docs[i : i + cfg.bulk_max_docs]:
                ops += [{"create": {"_index": index, "_id": doc_id}}, doc]
            resp = await es.bulk(operations=ops)
            if resp["errors"]:
                raise SystemExit(f"bench: raw bulk had item errors: {resp['items'][0]}")
        return len(docs) / (time.perf_counter() - started)


def _cleanup(es, bootstrap: str, prefixes: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    for prefix in prefixes:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(tuple(prefixes))])
    finally:
        admin.close()


def run_e2e(
    events: int, users: int, bootstrap: str, es_url: str, timeout: float = 600.0, profile: str | None = None
) -> dict:
    """Figures of the end-to-end case: worker and raw `_bulk` rates, their ratio, shipper rate, CPU."""
    from elasticsearch import Elasticsearch

    from bench.scale import write_month

    run = uuid.uuid4().hex[:8]
    prefix, raw_prefixes = f"bench{run}", [f"bench{run}r{k}" for k in range(2)]
    workdir = Path(tempfile.mkdtemp(prefix="secmon-scale-"))
    es = Elasticsearch(es_url, request_timeout=60)
    try:
        path = workdir / "signins.jsonl"
        write_month(str(path), users, events)
        docs = same_documents(path, raw_prefixes[0])
        env = _env(prefix, workdir, bootstrap, es_url)
        _secmon(env, workdir, "topics")
        _secmon(env, workdir, "templates")
        raw = [asyncio.run(raw_bulk(es_url, raw_prefixes[0], docs))]
        worker = run_worker(env, workdir, path, len(docs), es, timeout, profile)
        again = [(raw_prefixes[1] + index[len(raw_prefixes[0]) :], i, d) for index, i, d in docs]
        raw.append(asyncio.run(raw_bulk(es_url, raw_prefixes[1], again)))
    finally:
        _cleanup(es, bootstrap, [prefix, *raw_prefixes])
        es.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"events": len(docs), "users": users, "raw": raw, **worker, "ratio": worker["rate"] / max(raw)}


def report(r: dict) -> None:
    """Print the end-to-end figures."""
    print(
        f"end to end, {r['events']:,} sign-ins of {r['users']:,} users (shipper -> Kafka -> worker -> ES, "
        "worker started on the shipped backlog; everything shares the machine):"
    )
    print(f"  shipper                {r['ship_rate']:>10,.0f} records/s")
    print(
        f"  worker indexing        {r['rate']:>10,.0f} events/s  ({r['indexed']:,} indexed; worker CPU "
        f"{r['cpu_ms_per_1k']:.0f} ms per 1,000 events, all agents)"
    )
    print(
        f"  raw _bulk, same docs   {max(r['raw']):>10,.0f} events/s  (runs: {', '.join(f'{x:,.0f}' for x in r['raw'])})"
    )
    print(f"  ratio worker/raw = {r['ratio']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--bootstrap", default=os.environ.get("SECMON_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--es", default=os.environ.get("SECMON_ES_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the worker may take")
    parser.add_argument("--profile", help="run the worker under cProfile, writing the stats to this file")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    profile = str(Path(args.profile).resolve()) if args.profile else None
    result = run_e2e(args.events, args.users, args.bootstrap, args.es, args.timeout, profile)
    if args.json:
        print(json.dumps(result))
    else:
        report(result)


if __name__ == "__main__":
    main()
