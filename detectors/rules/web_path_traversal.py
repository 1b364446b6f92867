"""Path traversal and local file inclusion attempts in request targets, per client.

`../../`, its encodings (`%2e%2e%2f`, `..%252f` double-encoded, `..%5c`, overlong UTF-8 `%c0%af`),
well-known files (`/etc/passwd`, `win.ini`, `/proc/self/environ`, `WEB-INF/web.xml`) and PHP stream
wrappers (`php://filter`, `file://`) as parameter values. Browsers resolve `..` before sending, so a
target that still holds two in a row was written by hand or by a tool.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules import _web
from schemas.event import Event

PATTERNS = (
    ("dot_dot", r"(?:\.\.+;?/+){2,}"),
    ("dot_dot_target", r"\.\./.*(?:etc/|windows/|winnt/|boot\.ini|win\.ini|proc/self|web-inf/|\.ssh/|\.htpasswd)"),
    (
        "sensitive_file",
        r"(?:^|[=/:])/?(?:(?:etc/(?:passwd|shadow|group|hosts|issue|master\.passwd)|"
        r"proc/self/(?:environ|cmdline|maps|status)|windows/win\.ini|boot\.ini)(?:$|[\x00&#%?;/ ])|"
        r"proc/self/fd/|windows/system32/)",
    ),
    ("stream_wrapper", r"(?:^|[=(])\s*(?:php|file|expect|phar|zip|glob|data)://"),
    ("overlong_utf8", r"%c0%ae|%c0%af|%c1%9c|%c1%1c|%e0%80%ae|%e0%80%af|%u002e|%u2215|%uff0e"),
    ("web_inf", r"(?:^|/)web-inf/(?:web\.xml|classes/)"),
)
MATCHER = _web.PatternSet(PATTERNS)

META = DetectorMeta(
    id="web_path_traversal",
    title="Path traversal or file inclusion attempts from one client",
    description="Requests whose target (as sent, single or double percent-decoded) climbs out of the web "
    "root or names system files or stream wrappers, per client within the window; a 2xx "
    "answer may have served the file.",
    version=1,
    severity="medium",
    maturity="experimental",
    datasets=(_web.DATASET,),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.initial_access", "attack.t1190", "attack.discovery", "attack.t1083"),
    dedup_period=timedelta(hours=1),
)


class Params(_web.WebParams):
    """How many traversal requests within the window make an attack."""

    threshold: int = Field(3, ge=1, description="Traversal requests from one client that are an attack (medium).")


def techniques(event: Event) -> tuple[str, ...]:
    """The traversal techniques the event's target shows (empty: none)."""
    raw = _web.target(event)
    return MATCHER.names(_web.forms(raw)) if raw else ()


def key(event: Event) -> str | None:
    """The client of requests that carry traversal syntax; nothing else reaches this detector."""
    address = _web.source_address(event)
    return address if address and techniques(event) else None


def step(state, event: Event, params: Params):
    """Count the client's traversal requests; report when the evidence gets louder."""
    found = techniques(event)
    if not found or _web.exempt(event, params):
        return state, []
    return _web.count_matches(
        state, event, found, params, params.threshold, "path traversal", META.dedup_period.total_seconds()
    )


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=lambda params: params.window_seconds)
