"""Access-log queries as data: scope -> ES body, cursors, rows, CSV cells, rate limits."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.service.limits import RateLimiter
from pipeline.service.query import CursorError, Scope, csv_cell, decode_cursor, encode_cursor, row, search_body


def test_caller_text_only_reaches_term_queries() -> None:
    body = search_body(
        Scope(
            user_id='u1" OR *:*', workspace="ws1", outcome="failure", since=datetime(2026, 1, 1, tzinfo=timezone.utc)
        ),
        10,
    )
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"user.id": 'u1" OR *:*'}} in filters  # a term matches the literal value, never parses it
    assert {"term": {"organization.id": "ws1"}} in filters and {"term": {"event.outcome": "failure"}} in filters
    assert {"range": {"@timestamp": {"gte": "2026-01-01T00:00:00+00:00"}}} in filters
    assert not any("query_string" in str(f) or "wildcard" in str(f) for f in filters)
    assert body["sort"][0] == {"@timestamp": {"order": "desc"}}


def test_a_query_without_a_scope_is_refused() -> None:
    with pytest.raises(ValueError):
        search_body(Scope(outcome="success"), 10)


def test_cursor_round_trip_and_tampering() -> None:
    assert decode_cursor(encode_cursor([1700000000000, "abc"])) == [1700000000000, "abc"]
    for bad in (
        "!!",
        encode_cursor({"a": 1}),
        encode_cursor([1, 2]),
        encode_cursor(["x", "y"]),
        encode_cursor([1, "y", 3]),
        encode_cursor([1, "y" * 200]),
    ):
        with pytest.raises(CursorError):
            decode_cursor(bad)


def test_row_flattens_ecs_fields() -> None:
    r = row(
        {
            "@timestamp": "2026-03-01T10:00:00Z",
            "event": {"id": "e1", "outcome": "success"},
            "user_agent": {"name": "Firefox", "version": "128", "os": {"name": "Windows", "version": "10"}},
            "source": {"ip": "192.0.2.1", "geo": {"country_iso_code": "DE", "city_name": "Berlin"}},
            "secmon": {"device": {"type": "desktop"}, "auth": {"mfa": True, "method": "password"}},
        }
    )
    assert (r.browser, r.os, r.country, r.city, r.device_type, r.mfa) == (
        "Firefox 128",
        "Windows 10",
        "DE",
        "Berlin",
        "desktop",
        True,
    )


def test_csv_cells_never_start_a_formula() -> None:
    assert [csv_cell(v) for v in ("=HYPERLINK(1)", "+1", "-2", "@SUM", "ok", None)] == [
        "'=HYPERLINK(1)",
        "'+1",
        "'-2",
        "'@SUM",
        "ok",
        "",
    ]


def test_rate_limiter_bursts_then_limits_then_refills() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a", now=0.0) == pytest.approx(1.0)
    assert limiter.take("b", now=0.0) == 0  # per caller
    assert limiter.take("a", now=1.01) == 0
