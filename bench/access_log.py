"""Latency of `GET /v1/me/access-log` at 50 concurrent callers over 1M indexed sign-ins.

    python -m bench.access_log [--docs 1000000] [--users 20000] [--callers 50] [--requests 5000]

Bulk-loads the sign-ins (events template, one index per day, as the worker writes them) under a
`bench-access-<random>` prefix on the node at SECMON_ES_URL, starts `secmon serve` on them, runs
the callers (each with its own token, first pages and some second pages via the cursor), prints
the percentiles, and deletes the indices. Figures on a shared machine are noisy: say so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch, helpers

from schemas.templates import template
from tests.tokens import ISSUER, Idp

ES_URL = os.environ.get("SECMON_ES_URL", "http://127.0.0.1:9200")
START = datetime(2026, 10, 1, tzinfo=timezone.utc)
DEVICES = [
    ("desktop", "Firefox", "Windows"),
    ("mobile", "Mobile Safari", "iOS"),
    ("desktop", "Chrome", "Mac OS X"),
    ("cli", "curl", None),
]


def docs(prefix: str, n: int, users: int, days: int = 30):
    """n sign-in documents spread over `users` users, 3 workspaces per 100 users, `days` days."""
    rng = random.Random(7)
    span = days * 86400
    for i in range(n):
        ts = START + timedelta(seconds=rng.randrange(span))
        user = f"u{rng.randrange(users)}"
        kind, browser, os_name = DEVICES[i % len(DEVICES)]
        ok = rng.random() > 0.1
        yield {
            "_index": f"{prefix}-events-app.signin-{ts:%Y.%m.%d}",
            "_id": f"b{i}",
            "_source": {
                "@timestamp": ts.isoformat(),
                "message": "sign-in",
                "event": {
                    "id": f"b{i}",
                    "kind": "event",
                    "category": ["authentication"],
                    "type": ["start"],
                    "action": "user_login",
                    "outcome": "success" if ok else "failure",
                    "dataset": "app.signin",
                    "module": "app_signin",
                    "provider": "app",
                },
                "user": {"id": user, "name": f"{user}@example.test"},
                "organization": {"id": f"ws{int(user[1:]) // 100}"},
                "source": {
                    "ip": f"10.{i % 250}.{(i // 250) % 250}.{i % 200 + 1}",
                    "geo": {"country_iso_code": "DE", "city_name": "Berlin"},
                },
                "user_agent": {"name": browser, **({"os": {"name": os_name}} if os_name else {})},
                "secmon": {
                    "origin": {"source": "app_signin", "file_id": "bench", "offset": i},
                    "device": {"type": kind},
                    "auth": {"method": "password", "mfa": ok and i % 3 == 0},
                },
            },
        }


def load(es: Elasticsearch, prefix: str, n: int, users: int) -> float:
    es.indices.put_index_template(name=f"{prefix}-events", **template("events", prefix))
    started = time.perf_counter()
    for _ in helpers.streaming_bulk(
        es, docs(prefix, n, users), chunk_size=5000, raise_on_error=True, request_timeout=120
    ):
        pass
    es.indices.refresh(index=f"{prefix}-*")
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def callers(base: str, idp: Idp, users: int, n_callers: int, total: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    rows = 0
    remaining = iter(range(total))

    async def caller(k: int) -> None:
        nonlocal rows
        rng = random.Random(k)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for _ in remaining:
                user = f"u{rng.randrange(users)}"
                headers = {
                    "Authorization": f"Bearer {idp.token(user, workspaces={f'ws{int(user[1:]) // 100}': 'member'})}"
                }
                t0 = time.perf_counter()
                resp = await client.get("/v1/me/access-log", params={"limit": 20}, headers=headers)
                latencies.append(time.perf_counter() - t0)
                resp.raise_for_status()
                page = resp.json()
                rows += len(page["rows"])
                if page["next_cursor"] and rng.random() < 0.3:
                    t0 = time.perf_counter()
                    resp = await client.get(
                        "/v1/me/access-log", params={"limit": 20, "cursor": page["next_cursor"]}, headers=headers
                    )
                    latencies.append(time.perf_counter() - t0)
                    resp.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(n_callers)))
    return latencies, rows, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--callers", type=int, default=50)
    ap.add_argument("--requests", type=int, default=5000)
    args = ap.parse_args()
    prefix = f"bench-access-{uuid.uuid4().hex[:8]}"
    es = Elasticsearch(ES_URL, request_timeout=120)
    proc = None
    try:
        took = load(es, prefix, args.docs, args.users)
        print(f"loaded {args.docs} sign-ins for {args.users} users in {took:.1f} s ({args.docs / took:,.0f} docs/s)")
        idp = Idp()
        tmp = Path(tempfile.mkdtemp())
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SECMON_")},
            "SECMON_ES_URL": ES_URL,
            "SECMON_ES_INDEX_PREFIX": prefix,
            "SECMON_KAFKA_TOPIC_PREFIX": prefix,
            "SECMON_LOG_LEVEL": "WARNING",
            "SECMON_SERVICE_JWKS_FILE": str(idp.write_jwks(tmp / "jwks.json")),
            "SECMON_SERVICE_ISSUER": ISSUER,
            "SECMON_SERVICE_RATE_BURST": "100000",
            "SECMON_SERVICE_RATE_PER_MINUTE": "1000000",
            "SECMON_KAFKA_BOOTSTRAP": os.environ.get("SECMON_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--port", str(port)], env=env, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        asyncio.run(callers(base, idp, args.users, args.callers, min(200, args.requests)))  # warm-up
        lat, rows, wall = asyncio.run(callers(base, idp, args.users, args.callers, args.requests))
        lat.sort()

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

        print(
            json.dumps(
                {
                    "bench": "access_log",
                    "docs": args.docs,
                    "callers": args.callers,
                    "requests": len(lat),
                    "rows": rows,
                    "req_per_s": round(len(lat) / wall, 1),
                    "p50_ms": round(pct(50), 1),
                    "p95_ms": round(pct(95), 1),
                    "p99_ms": round(pct(99), 1),
                    "max_ms": round(lat[-1] * 1000, 1),
                }
            )
        )
        return 0
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
        es.close()


if __name__ == "__main__":
    sys.exit(main())
