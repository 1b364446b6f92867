"""Retry decisions: classification, backoff with jitter, Retry-After, budget, circuit breaker."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from pipeline.delivery.config import RetrySettings
from pipeline.delivery.http import BadResponse, CannotConnect, InvalidURL, ServerDisconnected
from pipeline.delivery.retry import (
    CircuitBreaker,
    Outcome,
    backoff,
    classify,
    failure_alert,
    next_step,
    retry_after_seconds,
)

CFG = RetrySettings(
    initial_backoff_seconds=1, max_backoff_seconds=60, max_attempts=5, budget_seconds=300, max_retry_after_seconds=120
)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "done"),
        (202, "done"),
        (204, "done"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (400, "permanent"),
        (401, "permanent"),
        (403, "permanent"),
        (404, "permanent"),
        (410, "permanent"),
        (301, "permanent"),
        (307, "permanent"),  # redirects are not followed: the body could leak elsewhere
    ],
)
def test_status_classification(status, verdict):
    assert classify(status) == verdict


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (TimeoutError(), "retry"),
        (ServerDisconnected(), "retry"),
        (ConnectionRefusedError(), "retry"),
        (CannotConnect("cannot connect to 127.0.0.1:9"), "retry"),
        (BadResponse("not an HTTP/1.x status line"), "retry"),
        (InvalidURL("nope"), "permanent"),
        (ValueError("a request header holds a line break"), "permanent"),
    ],
)
def test_error_classification(error, verdict):
    assert classify(None, error) == verdict


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc).timestamp()
    assert retry_after_seconds("7", now) == 7
    assert (
        retry_after_seconds(format_datetime(datetime(2026, 11, 30, 9, 0, 30, tzinfo=timezone.utc), usegmt=True), now)
        == 30
    )
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_backoff_doubles_is_capped_and_jittered():
    rng = random.Random(1)
    delays = [[backoff(n, CFG, rng) for _ in range(200)] for n in (1, 2, 3, 10)]
    for n, ds in zip((1, 2, 3), delays[:3], strict=True):
        ceiling = 2 ** (n - 1)
        assert all(ceiling / 2 <= d <= ceiling for d in ds) and len(set(ds)) > 150
    assert max(delays[3]) <= 60 and min(delays[3]) >= 30


def test_retry_after_is_honoured_on_429_and_503_only():
    step, at = next_step(Outcome("retry", status=429, retry_after=45), 1, since=0, now=0, cfg=CFG)
    assert step == "retry" and at == 45
    step, at = next_step(Outcome("retry", status=503, retry_after=900), 1, since=0, now=0, cfg=CFG)
    assert at == 120  # capped at max_retry_after_seconds
    step, at = next_step(Outcome("retry", status=500, retry_after=45), 1, since=0, now=0, cfg=CFG)
    assert at <= 1


def test_budget_attempts_and_time_then_dead_letter():
    assert next_step(Outcome("done", status=200), 1, 0, 0, CFG) == ("delivered", None)
    assert next_step(Outcome("permanent", status=400), 1, 0, 0, CFG) == ("dead_letter", None)
    assert next_step(Outcome("retry", status=500), 4, 0, 10, CFG)[0] == "retry"
    assert next_step(Outcome("retry", status=500), 5, 0, 10, CFG) == ("dead_letter", None)
    assert next_step(Outcome("retry", status=500), 1, 0, 299.9, CFG) == ("dead_letter", None)  # 300 s budget


def test_circuit_breaker_opens_probes_once_and_closes():
    b = CircuitBreaker(failures=3, cooldown=10)
    for t in range(3):
        assert b.allow(t) is None
        b.record(False, t)
    assert b.state == "open" and b.allow(5) == 12  # closed for the cooldown after the 3rd failure at t=2
    assert b.allow(12) is None  # one probe
    assert b.allow(12.5) is not None  # the others wait for the probe's result
    b.record(False, 13)
    assert b.allow(14) == 23  # failed probe: open again
    assert b.allow(23) is None
    b.record(True, 23.1)
    assert b.state == "closed" and b.allow(23.2) is None


def test_failure_alert_is_one_per_receiver_and_hour():
    now = datetime(2026, 11, 30, 9, 20, tzinfo=timezone.utc).timestamp()
    a = failure_alert("oncall", "HTTP 503", now, 1)
    b = failure_alert("oncall", "HTTP 503", now + 600, 2)
    c = failure_alert("chat", "HTTP 503", now, 1)
    assert a.alert.id == b.alert.id != c.alert.id
    assert a.rule.id == "delivery_failed" and b.alert.count == 2 and a.alert.first_seen.minute == 0
