"""Real HTTP receivers on 127.0.0.1 (aiohttp servers in a background thread), plus helpers that
check what they got *independently* of secmon's code: a Standard Webhooks verifier written from
the spec and a PagerDuty Events API v2 schema check written from PagerDuty's public docs.

Behaviours: `ok`, `slow` (answers after `delay`; only the first `fail` requests if set), `flaky`
(500 for the first `fail` requests, then 200), `ratelimit` (429 + Retry-After for the first `fail`
requests), `down` (nothing listens until `up()`). Used by the unit tests and the integration tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web


@dataclass
class Hit:
    """One request the receiver got, and what it answered."""

    at: float
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoopbackReceiver:
    """An HTTP server on a random loopback port with a scripted behaviour."""

    behaviour: str = "ok"
    delay: float = 0.0
    fail: int = 0
    retry_after: int = 1
    ok_status: int = 200
    hits: list[Hit] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()
        if self.behaviour != "down":
            self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        """Start listening (a `down` receiver comes back)."""
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            n = len(self.hits)
            status, headers = self._decide(n)
            self.hits.append(Hit(time.time(), dict(request.headers), body, status))
        if self.behaviour == "slow" and (not self.fail or n < self.fail):
            await asyncio.sleep(self.delay)
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "nope")

    def _decide(self, n: int) -> tuple[int, dict[str, str]]:
        if self.behaviour == "flaky" and n < self.fail:
            return 500, {}
        if self.behaviour == "ratelimit" and n < self.fail:
            return 429, {"Retry-After": str(self.retry_after)}
        return self.ok_status, {}

    def accepted(self) -> list[Hit]:
        """Requests answered 2xx."""
        with self._lock:
            return [h for h in self.hits if 200 <= h.status < 300]

    def webhook_ids(self) -> dict[str, set[str]]:
        """alert id -> webhook-ids of the accepted requests (our webhook's payload) that carried it."""
        out: dict[str, set[str]] = {}
        for hit in self.accepted():
            for a in hit.json["data"]["alerts"]:
                out.setdefault(a["alert"]["id"], set()).add(hit.headers["webhook-id"])
        return out


# --- Standard Webhooks verification, written from the spec (https://www.standardwebhooks.com/) -----


def verify_standard_webhook(
    secret: str, headers: dict[str, str], body: bytes, now: float | None = None, tolerance: int = 300
) -> None:
    """Raise AssertionError unless the headers carry a valid v1 signature of body (spec section 'Verifying')."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = lower["webhook-id"], lower["webhook-timestamp"], lower["webhook-signature"]
    assert abs((now or time.time()) - int(ts)) <= tolerance, "timestamp outside the tolerance window"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed_content = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed_content, hashlib.sha256).digest()).decode()
    candidates = [s.split(",", 1)[1] for s in sigs.split(" ") if s.startswith("v1,")]
    assert any(hmac.compare_digest(expected, c) for c in candidates), "no matching v1 signature"


# --- PagerDuty Events API v2 schema, written from developer.pagerduty.com (send-alert-event) ---------

PD_SEVERITIES = {"critical", "error", "warning", "info"}
PD_ACTIONS = {"trigger", "acknowledge", "resolve"}


def check_pagerduty_event(event: dict[str, Any]) -> list[str]:
    """Problems with an Events API v2 body (empty list = valid)."""
    problems = []
    if not isinstance(event.get("routing_key"), str) or not event["routing_key"]:
        problems.append("routing_key: required string")
    if event.get("event_action") not in PD_ACTIONS:
        problems.append("event_action: must be trigger, acknowledge or resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        problems.append("dedup_key: string of at most 255 characters")
    if event.get("event_action") in ("acknowledge", "resolve") and not dedup:
        problems.append("dedup_key: required to acknowledge or resolve")
    if event.get("event_action") == "trigger":
        problems += _check_pd_payload(event.get("payload"))
    for link in event.get("links", []):
        if not isinstance(link.get("href"), str):
            problems.append("links[].href: required string")
    return problems


def _check_pd_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["payload: required object for trigger"]
    problems = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary or len(summary) > 1024:
        problems.append("payload.summary: required string of at most 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        problems.append("payload.source: required string")
    if payload.get("severity") not in PD_SEVERITIES:
        problems.append("payload.severity: must be critical, error, warning or info")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            problems.append("payload.timestamp: must be ISO 8601")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        problems.append("payload.custom_details: must be an object")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            problems.append(f"payload.{name}: must be a string")
    return problems
