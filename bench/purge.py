"""Workspace purge docs/s on the real node: 3 workspaces x 50k events over several days; purge one.

    python -m bench.purge [--per-workspace 50000] [--days 5] [--es http://127.0.0.1:9200]

Loads the events (one daily index per day) plus a few alerts per workspace through BulkSink,
then times `purge_workspace` (point-in-time + search_after + bulk delete + zero-count check +
receipt). Checks the other workspaces are untouched, prints figures, asserts nothing, and
deletes what it wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import timedelta

from bench.es_ingest import START, cleanup, make_events
from pipeline.lifecycle.audit import session
from pipeline.lifecycle.purge import count_by_index, purge_workspace, workspace_query
from pipeline.settings import EsSettings, LifecycleSettings, SecmonSettings
from pipeline.sinks.elasticsearch import BulkSink, client, install_templates
from schemas.alert import Alert, AlertState, Rule
from schemas.event import Organization, User
from schemas.ids import alert_id

WORKSPACES = ("ws-a", "ws-b", "ws-c")


def make_alerts(workspaces: tuple[str, ...], per_workspace: int, days: int) -> list[Alert]:
    """`per_workspace` alerts per workspace, spread over the days (one alerts index per day)."""
    alerts = []
    for ws in workspaces:
        for i in range(per_workspace):
            first = START + timedelta(days=i % days, minutes=i)
            user = f"user{i}@{ws}.example"
            alerts.append(
                Alert(
                    timestamp=first,
                    message=f"10 failed sign-ins for user {user} within 600s",
                    rule=Rule(
                        id="signin_bruteforce_user",
                        name="Brute force against one user account",
                        version=1,
                        maturity="stable",
                    ),
                    alert=AlertState(
                        id=alert_id("signin_bruteforce_user", user, first.isoformat()),
                        severity="high",
                        dedup_key=user,
                        first_seen=first,
                        last_seen=first,
                    ),
                    user=User(name=user),
                    organization=Organization(id=ws),
                )
            )
    return alerts


async def load(
    cfg: EsSettings, per_workspace: int, days: int, alerts: int = 5, workspaces: tuple[str, ...] = WORKSPACES
) -> int:
    """Write the events and alerts of every workspace; the documents written."""
    events = make_events(per_workspace * len(workspaces), workspaces, days)
    async with client(cfg) as es:
        await install_templates(es, cfg.index_prefix)
        sink = BulkSink(es, cfg)
        written = (await sink.write(sink.event_actions(events), "event")).created
        written += (await sink.write(sink.alert_actions(make_alerts(workspaces, alerts, days)), "alert")).created
        await es.indices.refresh(index=f"{cfg.index_prefix}-*")
    return written


async def main_async(per_workspace: int, days: int, url: str) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = SecmonSettings(
        es=EsSettings(url=url, index_prefix=prefix), lifecycle=LifecycleSettings(emit_to_kafka=False)
    )
    patterns = f"{prefix}-events-*,{prefix}-alerts-*"
    try:
        t0 = time.perf_counter()
        written = await load(settings.es, per_workspace, days)
        print(
            f"loaded {written:,} documents ({len(WORKSPACES)} workspaces x {per_workspace:,} events over {days} "
            f"days, + alerts) in {time.perf_counter() - t0:.1f}s"
        )
        async with session(settings, "bench") as rec:
            started = time.perf_counter()
            result = await purge_workspace(
                rec, settings.lifecycle, settings.es, "ws-b", now=START + timedelta(days=days + 1)
            )
            elapsed = time.perf_counter() - started
            others = {
                ws: sum((await count_by_index(rec.es, patterns, workspace_query(ws))).values()) for ws in WORKSPACES
            }
        r = result.receipt
        print(
            f"purge ws-b: {r.documents:,} documents from {len(r.indices)} indices in {elapsed:.2f}s = "
            f"{r.documents / elapsed:,.0f} docs/s ({r.passes} pass, status {r.status}, remaining {r.remaining})"
        )
        print("documents left per workspace: " + ", ".join(f"{ws} {n:,}" for ws, n in others.items()))
    finally:
        await cleanup(settings.es)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-workspace", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--es", default="http://127.0.0.1:9200")
    args = parser.parse_args()
    asyncio.run(main_async(args.per_workspace, args.days, args.es))


if __name__ == "__main__":
    main()
