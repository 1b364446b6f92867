"""Synthetic but realistic app sign-in streams (for the integration tests and the benchmarks)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

UAS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
START = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def benign(n: int, seed: int = 1, users: int = 500, start: datetime = START) -> Iterator[dict]:
    """n sign-ins of `users` users from stable IPs, ~3 % failures spread thinly, 100 ms apart."""
    rng = random.Random(seed)
    for i in range(n):
        u = rng.randrange(users)
        ok = rng.random() > 0.03
        yield {
            "timestamp": _iso(start + timedelta(milliseconds=100 * i)),
            "user": f"user{u}@ws{u % 40}.example",
            "user_id": f"u-{u}",
            "workspace": f"ws-{u % 40}",
            "outcome": "success" if ok else "failure",
            **({} if ok else {"failure_reason": "bad_password"}),
            "source_ip": f"198.51.{u // 250}.{u % 250 + 1}",
            "user_agent": UAS[u % len(UAS)],
            "auth_method": "password",
            "mfa_used": ok,
            **({"session_id": f"s-{seed}-{i}"} if ok else {}),
        }


def burst(n: int, user: str, ip: str, start: datetime, every_s: float = 2.0) -> Iterator[dict]:
    """n failed sign-ins for one user from one IP, every_s seconds apart (a brute force)."""
    for i in range(n):
        yield {
            "timestamp": _iso(start + timedelta(seconds=every_s * i)),
            "user": user,
            "workspace": "ws-1",
            "outcome": "failure",
            "failure_reason": "bad_password",
            "source_ip": ip,
            "user_agent": "python-requests/2.32.3",
            "auth_method": "password",
            "mfa_used": False,
        }


def with_burst(total: int, burst_size: int = 30, seed: int = 1) -> list[dict]:
    """`total` sign-ins: benign traffic with one brute-force burst in the middle, in time order."""
    rows = list(benign(total - burst_size, seed=seed))
    middle = START + timedelta(milliseconds=100 * (total // 2))
    rows += burst(burst_size, "victim@ws1.example", "185.220.101.45", middle)
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def write_jsonl(rows: list[dict], path) -> None:
    """Write rows as JSON lines."""
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
