"""Bulk ingest docs/s on the real node: BulkSink vs a raw `_bulk` loop of the same documents.

    python -m bench.es_ingest [--docs 100000] [--es http://127.0.0.1:9200]

Both write the same normalized sign-in events (op_type create, deterministic ids, the same
request size) into fresh indices of their own prefix with the generated strict template; the
ratio is what the sink's per-item classification, retry bookkeeping and metrics cost. Each side
runs twice, alternating, and the better run counts. Prints figures, asserts nothing, and
deletes what it wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

from bench.generate import UAS
from pipeline.normalizers.app_signin import NORMALIZER
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import BulkSink, client, event_index, install_templates
from schemas.event import Event, Origin

START = datetime(2026, 11, 20, tzinfo=timezone.utc)


def make_events(
    n: int,
    workspaces: tuple[str, ...] = ("ws-a", "ws-b", "ws-c"),
    days: int = 3,
    start: datetime = START,
    file_id: str = "bench",
) -> list[Event]:
    """n sign-in events spread evenly over `days` days and round-robin over `workspaces`."""
    parse_options, step = ParseOptions(), timedelta(days=days) / max(n, 1)
    events = []
    for i in range(n):
        ws, u = workspaces[i % len(workspaces)], i % 997
        row = {
            "timestamp": (start + step * i).isoformat(),
            "user": f"user{u}@{ws}.example",
            "workspace": ws,
            "outcome": "failure" if i % 31 == 0 else "success",
            "source_ip": f"198.51.{u // 250}.{u % 250 + 1}",
            "user_agent": UAS[u % len(UAS)],
            "auth_method": "password",
            "mfa_used": True,
        }
        raw = RawRecord(
            data=json.dumps(row).encode(),
            origin=Origin(source="app_signin", file="bench", file_id=file_id, offset=i * 300),
        )
        events.extend(NORMALIZER.parse(raw, parse_options))
    return events


async def sink_run(cfg: EsSettings, events: list[Event]) -> float:
    """Seconds BulkSink takes to write events (every one must be created)."""
    async with client(cfg) as es:
        await install_templates(es, cfg.index_prefix)
        sink = BulkSink(es, cfg)
        started = time.perf_counter()  # building the actions is timed on both sides (to_doc dominates it)
        report = await sink.write(sink.event_actions(events), "event")
        elapsed = time.perf_counter() - started
    if report.created != len(events):
        raise RuntimeError(f"sink wrote {report.created} of {len(events)}: {report.rejected[:1]}")
    return elapsed


async def raw_run(cfg: EsSettings, events: list[Event]) -> float:
    """Seconds a plain loop of `_bulk` requests of bulk_max_docs takes to write the same events."""
    async with client(cfg) as es:
        await install_templates(es, cfg.index_prefix)
        started = time.perf_counter()
        for i in range(0, len(events), cfg.bulk_max_docs):
            ops: list[dict] = []
            for event in events[i : i + cfg.bulk_max_docs]:
                ops += [
                    {"create": {"_index": event_index(cfg.index_prefix, event), "_id": event.event.id}},
                    event.to_doc(),
                ]
            resp = await es.bulk(operations=ops)
            if resp["errors"]:
                raise RuntimeError(f"raw bulk had item errors: {resp['items'][0]}")
        return time.perf_counter() - started


async def cleanup(cfg: EsSettings) -> None:
    """Delete the indices and templates of a bench prefix."""
    async with client(cfg) as es:
        await es.options(ignore_status=404).indices.delete(index=f"{cfg.index_prefix}-*")
        await es.options(ignore_status=404).indices.delete_index_template(name=f"{cfg.index_prefix}-*")


async def main_async(n: int, url: str) -> None:
    events = make_events(n)
    best = {"sink": float("inf"), "raw": float("inf")}
    for _ in range(2):
        for name, run in (("raw", raw_run), ("sink", sink_run)):
            cfg = EsSettings(url=url, index_prefix=f"bench{uuid.uuid4().hex[:8]}")
            try:
                best[name] = min(best[name], await run(cfg, events))
            finally:
                await cleanup(cfg)
    sink_rate, raw_rate = n / best["sink"], n / best["raw"]
    print(f"bulk ingest of {n:,} sign-in events ({EsSettings().bulk_max_docs} per request), best of 2:")
    print(f"  BulkSink      {best['sink']:6.2f}s  {sink_rate:10,.0f} docs/s")
    print(f"  raw _bulk     {best['raw']:6.2f}s  {raw_rate:10,.0f} docs/s")
    print(f"  ratio sink/raw = {sink_rate / raw_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--es", default="http://127.0.0.1:9200")
    args = parser.parse_args()
    asyncio.run(main_async(args.docs, args.es))


if __name__ == "__main__":
    main()
