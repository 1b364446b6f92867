"""SQL injection attempts in request targets, per client: union, boolean, time- and error-based, stacked.

Read on the target as sent and once and twice percent-decoded (detectors/rules/_web.py). Each
pattern names a technique sqlmap and manual testers use; natural-language queries ("select a gift
from our shop") match none of them: every pattern needs SQL syntax around the keyword (a quote
before `or`, `union` then `select`, a function call with a number).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules import _web
from schemas.event import Event

PATTERNS = (
    ("union_select", r"\bunion(?:\s|\()+(?:all\s+|distinct\s+)?\(?\s*select\b"),
    ("boolean", r"['\"`]\s*\)*\s*(?:or|and|xor|\|\||&&)\s*\(*\s*['\"`]?\w+['\"`]?\s*(?:=|<>|!=|<|>|\blike\b)"),
    ("numeric_tautology", r"(?:^|[\s()=])(?:or|and)\s+\(*\d+\s*(?:=|<>|<|>)\s*\d+\b"),
    ("comment_after_quote", r"['\"`]\s*\)*\s*(?:--|#|/\*)"),
    (
        "stacked_query",
        r";\s*(?:select|drop|insert|update|delete|truncate|alter|create|exec|execute|declare|shutdown)\b",
    ),
    (
        "time_based",
        r"\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\s+['\"]|\bdbms_pipe\.receive_message\s*\(",
    ),
    (
        "error_based",
        r"\b(?:extractvalue|updatexml)\s*\(|\bconvert\s*\(\s*int\s*,|\bcast\s*\(.{0,64}\bas\s+(?:int|integer|numeric|char|varchar)\b",
    ),
    (
        "schema_probe",
        r"\binformation_schema\b|\b(?:sysobjects|syscolumns|pg_catalog|pg_tables|sqlite_master|mysql\.user|all_tables|user_tables)\b|@@(?:version|datadir|hostname)\b",
    ),
    ("file_access", r"\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\bxp_cmdshell\b"),
    ("char_encoding", r"\b(?:char|chr)\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)|\bconcat(?:_ws)?\s*\(\s*0x[0-9a-f]+"),
    ("order_by_probe", r"\border\s+by\s+\d+\s*(?:--|#|/\*)"),
)
MATCHER = _web.PatternSet(PATTERNS)

META = DetectorMeta(
    id="web_sql_injection",
    title="SQL injection attempts from one client",
    description="Requests whose target (as sent, single or double percent-decoded) carries SQL injection "
    "syntax, per client within the window: one is low evidence, many are an attack, a 2xx "
    "answer means the server did not refuse it.",
    version=1,
    severity="medium",
    maturity="experimental",
    datasets=(_web.DATASET,),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.initial_access", "attack.t1190"),
    dedup_period=timedelta(hours=1),
)


class Params(_web.WebParams):
    """How many injection requests within the window make an attack."""

    threshold: int = Field(5, ge=1, description="Injection requests from one client that are an attack (medium).")


def techniques(event: Event) -> tuple[str, ...]:
    """The SQL injection techniques the event's target shows (empty: none)."""
    raw = _web.target(event)
    return MATCHER.names(_web.forms(raw)) if raw else ()


def key(event: Event) -> str | None:
    """The client of requests that carry SQL injection syntax; nothing else reaches this detector."""
    address = _web.source_address(event)
    return address if address and techniques(event) else None


def step(state, event: Event, params: Params):
    """Count the client's injection requests; report when the evidence gets louder."""
    found = techniques(event)
    if not found or _web.exempt(event, params):
        return state, []
    return _web.count_matches(
        state, event, found, params, params.threshold, "SQL injection", META.dedup_period.total_seconds()
    )


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=lambda params: params.window_seconds)
