"""Sign-ins of three workspaces, run through the real normalizer and enrichers, indexed like the worker does."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch, helpers

from pipeline.enrichers.registry import default_enrichers
from pipeline.normalizers.app_signin import NORMALIZER
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.process import process_record
from pipeline.settings import SecmonSettings
from pipeline.sinks.elasticsearch import event_index
from schemas.event import Event, Origin
from schemas.templates import template
from tests.integration.conftest import Stack, free_port, wait_for
from tests.tokens import ISSUER

START = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
]
IPS = ["81.2.69.160", "2a02:8070::1", "203.0.113.9", "89.160.20.112"]
# workspace -> user -> sign-ins; user None: failed attempts at an unknown login
USERS = {"ws-a": {"a-admin": 4, "a1": 6, "a2": 5, None: 2}, "ws-b": {"b-owner": 3, "b1": 7}, "ws-c": {"c1": 4}}


def signin_lines() -> list[dict]:
    """The application's sign-in records, one every 37 minutes over a few days."""
    lines, n = [], 0
    for ws, users in USERS.items():
        for user, count in users.items():
            for i in range(count):
                n += 1
                failed = user is None or i % 4 == 3
                lines.append(
                    {
                        "timestamp": (START + timedelta(minutes=37 * n)).isoformat(),
                        "user": f"{user or 'ghost'}@example.test",
                        "user_id": user,
                        "workspace": ws,
                        "outcome": "failure" if failed else "success",
                        "failure_reason": ("unknown_user" if user is None else "bad_password") if failed else None,
                        "source_ip": IPS[n % len(IPS)],
                        "user_agent": UAS[n % len(UAS)],
                        "mfa_used": not failed and n % 2 == 0,
                        "mfa_method": "totp" if n % 2 == 0 else None,
                        "session_id": f"s{n}",
                    }
                )
    return lines


def to_events(lines: list[dict]) -> list[Event]:
    """The events the worker would index for these lines (normalized and enriched)."""
    settings, events = SecmonSettings(), []
    enrichers = default_enrichers(settings)
    for i, line in enumerate(lines):
        data = json.dumps({k: v for k, v in line.items() if v is not None}).encode()
        result = process_record(
            RawRecord(data=data, origin=Origin(source="app_signin", file_id="signins", offset=i)),
            NORMALIZER,
            enrichers,
            ParseOptions(),
        )
        assert result.dead_letter is None, result.dead_letter
        events.extend(result.events)
    return events


def index_signins(es: Elasticsearch, prefix: str, lines: list[dict]) -> list[Event]:
    """Install the events template and index the sign-ins (refreshed)."""
    es.indices.put_index_template(name=f"{prefix}-events", **template("events", prefix))
    events = to_events(lines)
    helpers.bulk(
        es,
        (
            {"_op_type": "create", "_index": event_index(prefix, e), "_id": e.event.id, "_source": e.to_doc()}
            for e in events
        ),
        refresh="wait_for",
    )
    return events


def start_service(stack: Stack, jwks: Path, env: dict[str, str] | None = None) -> httpx.Client:
    """Start `secmon serve` for the stack (limits raised for the tests) and a client once it answers."""
    port = free_port()
    stack.start(
        "serve",
        "--port",
        str(port),
        log_name="serve",
        env={
            "SECMON_SERVICE_JWKS_FILE": str(jwks),
            "SECMON_SERVICE_ISSUER": ISSUER,
            "SECMON_SERVICE_RATE_BURST": "1000",
            "SECMON_SERVICE_RATE_PER_MINUTE": "6000",
            **(env or {}),
        },
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def up() -> bool:
        try:
            return client.get("/openapi.json").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, 60, 0.3, "secmon serve to answer")
    return client
