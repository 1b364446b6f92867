"""The one place delivery outcomes are classified and retries decided.

- 2xx: done. 408, 429, 5xx, timeouts and connection errors: retry. Any other status (4xx, and
  3xx: redirects are not followed, a webhook must not leak its body elsewhere): permanent.
- Backoff doubles from `initial_backoff_seconds` up to `max_backoff_seconds`, with jitter
  (half fixed, half random) so a fleet of retries does not arrive in lockstep. A `Retry-After`
  on 429/503 (seconds or an HTTP date) is honoured, up to `max_retry_after_seconds`.
- Each receiver has a circuit breaker: after `breaker_failures` consecutive failures it opens
  and notifications wait, unattempted, until one probe is let through after the cooldown.
- A notification that failed permanently, or is still failing after `max_attempts` attempts or
  `budget_seconds`, is dead-lettered, and a `delivery_failed` alert is raised about it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Literal

from pipeline.delivery.config import RetrySettings
from pipeline.delivery.http import HttpClient
from pipeline.delivery.receivers.base import HttpRequest
from schemas.alert import Alert, AlertProvenance, AlertState, Rule
from schemas.ids import alert_id

Verdict = Literal["done", "retry", "permanent"]
FAILURE_RULE = Rule(
    id="delivery_failed",
    name="Alert delivery to a receiver failed",
    version=1,
    maturity="stable",
    tags=["policy.alert_delivery"],
)
FAILURE_WINDOW_SECONDS = 3600  # one delivery_failed alert per receiver per hour; later failures count into it


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: verdict, HTTP status, a short error (never the URL), Retry-After, latency."""

    verdict: Verdict
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    latency: float = 0.0


def classify(status: int | None, error: BaseException | None = None) -> Verdict:
    """done / retry / permanent for an HTTP status, or for the exception raised instead of one."""
    if error is not None:
        if isinstance(error, ValueError):  # an invalid URL or header (pipeline.delivery.http.InvalidURL)
            return "permanent"
        return "retry"  # timeouts, refused/reset connections, broken responses: the receiver may come back
    assert status is not None
    if 200 <= status < 300:
        return "done"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "permanent"


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, cfg: RetrySettings, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1 = first retry): exponential, capped, half jittered."""
    ceiling = min(cfg.max_backoff_seconds, cfg.initial_backoff_seconds * 2 ** max(0, attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def next_step(
    outcome: Outcome, attempts: int, since: float, now: float, cfg: RetrySettings
) -> tuple[Literal["delivered", "retry", "dead_letter"], float | None]:
    """After an attempt (`attempts` made so far, the first at `since`): what now, and when to retry."""
    if outcome.verdict == "done":
        return "delivered", None
    if outcome.verdict == "permanent":
        return "dead_letter", None
    delay = backoff(attempts, cfg)
    if outcome.retry_after is not None and outcome.status in (429, 503):
        delay = max(delay, min(outcome.retry_after, cfg.max_retry_after_seconds))
    if attempts >= cfg.max_attempts or now + delay - since > cfg.budget_seconds:
        return "dead_letter", None
    return "retry", now + delay


class CircuitBreaker:
    """Per receiver: closed -> open after N consecutive failures -> one probe after the cooldown."""

    def __init__(self, failures: int, cooldown: float) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.failures = 0
        self.open_until: float | None = None
        self.probing = False

    def allow(self, now: float) -> float | None:
        """None when an attempt may go now; otherwise the time to come back."""
        if self.open_until is None:
            return None
        if now < self.open_until or self.probing:
            return max(now + 0.1, self.open_until)
        self.probing = True  # half-open: exactly one attempt finds out whether the receiver is back
        return None

    def record(self, ok: bool, now: float) -> None:
        """Count the attempt's result; a failed probe re-opens the circuit for another cooldown."""
        self.probing = False
        if ok:
            self.failures, self.open_until = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown

    @property
    def state(self) -> str:
        """closed, open or half_open (for logs)."""
        return "closed" if self.open_until is None else ("half_open" if self.probing else "open")


def session() -> HttpClient:
    """The one HTTP client of a deliver agent: pooled keep-alive connections, no cookie jar, no
    redirect followed (see pipeline.delivery.http)."""
    return HttpClient()


async def attempt(session: HttpClient, request: HttpRequest, timeout: float) -> Outcome:
    """POST once and classify the result; no exception escapes."""
    started = time.perf_counter()
    try:
        response = await session.post(request.url, request.headers, request.body, timeout)
    except (TimeoutError, OSError, ValueError) as exc:
        latency = time.perf_counter() - started
        return Outcome(classify(None, exc), error=_describe(exc, request.url), latency=latency)
    latency = time.perf_counter() - started
    status = response.status
    verdict = classify(status)
    if verdict == "done":
        return Outcome(verdict, status=status, latency=latency)
    after = retry_after_seconds(response.headers.get("retry-after"), time.time())
    return Outcome(verdict, status=status, error=f"HTTP {status}", retry_after=after, latency=latency)


def _describe(exc: BaseException, url: str) -> str:
    """A short error text without the URL (a Slack URL is a credential)."""
    text = str(exc).replace(url, "<url>")[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_alert(receiver: str, reason: str, now: float, count: int) -> Alert:
    """The `delivery_failed` alert about a receiver (one per hour window, `count` failures so far).

    Built here rather than by a detector: it is about secmon itself, not about events. It goes to
    the alerts topic like any alert (indexed, and routed by the tree: send it to another receiver).
    """
    window = datetime.fromtimestamp(now - now % FAILURE_WINDOW_SECONDS, tz=timezone.utc)
    at = datetime.fromtimestamp(now, tz=timezone.utc)
    return Alert(
        timestamp=at,
        message=f"Notifications to receiver {receiver} are failing: {reason}"[:1000],
        rule=FAILURE_RULE,
        alert=AlertState(
            id=alert_id(FAILURE_RULE.id, receiver, window.isoformat()),
            severity="high",
            dedup_key=receiver,
            count=count,
            first_seen=window,
            last_seen=at,
        ),
        secmon=AlertProvenance(datasets=["secmon.delivery"]),
    )
