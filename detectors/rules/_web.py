"""Shared logic of the web attack detectors (dataset web.access, from the web_access normalizer).

What they read: `url.original` (the request target as the client sent it), `http.response.status_code`,
`user_agent.original` and `source.ip` (else `source.domain`, Apache with HostnameLookups).

Attackers encode payloads to slip past filters: `%2e%2e%2f` is `../`, `%252e%252e%252f` is `../`
once the application decodes a second time, `+` is a space in a query. So a target is inspected as
written and after each of up to two percent-decodings (never more: a third round finds nothing a
browser would send, and each round costs), lower-cased, with `\\` read as `/` (IIS) and SQL comments
(`/**/`, sqlmap's space2comment) read as spaces. Only the first MAX_INSPECT characters are read.

Patterns are ours: named, bounded sets (a few dozen each), run through re2, linear in the input
whatever it holds (the request target is attacker-chosen). They are not configurable: routing
(`key`) decides without parameters which events reach a detector, so a configured pattern could
never be routed. One re2.Set per
category matches every pattern in one pass and says which matched; the pattern's name goes into
the alert, so the analyst sees `union_select, time_based` rather than a regex.

Status-aware: a 2xx answer to an attack request means the server did not refuse it (it may have
worked), which raises the severity one step; 4xx/5xx answers are attempts only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from hashlib import blake2b
from urllib.parse import unquote_plus

import re2
from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

from detectors import windows
from detectors.base import Entity, Finding, State
from schemas.event import Endpoint, Event

DATASET = "web.access"
MAX_INSPECT = 8192  # characters of a target inspected; nginx's default large_client_header_buffers is 8k
MAX_DECODES = 2  # percent-decoding rounds: single and double encoding
SEVERITIES = ("low", "medium", "high")
_COMMENT = re2.compile(r"/\*[^*]{0,64}\*/")
_UNPRINTABLE = re2.compile(r"[^\x21-\x7e]")


class WebParams(BaseModel):
    """Window and exemptions every web attack detector has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")
    exempt_sources: list[IPvAnyNetwork] = Field(
        default_factory=list, description="Client networks (e.g. our own vulnerability scanner) never reported."
    )


class PatternSet:
    """Named re2 patterns matched in one pass; `names(text)` says which matched."""

    def __init__(self, patterns: Sequence[tuple[str, str]]) -> None:
        self._names = [name for name, _ in patterns]
        self._set = re2.Set.SearchSet()
        for _, pattern in patterns:
            self._set.Add(pattern)
        self._set.Compile()

    def names(self, texts: Sequence[str]) -> tuple[str, ...]:
        """Names of the patterns matching any of the texts, in pattern order."""
        hit: set[int] = set()
        for text in texts:
            hit.update(self._set.Match(text) or ())
        return tuple(self._names[i] for i in sorted(hit))


@lru_cache(maxsize=16384)  # key() and step() inspect the same target; scans repeat targets
def forms(target: str) -> tuple[str, ...]:
    """The target as written and after each percent-decoding that changed it, lower-cased, `\\` as `/`."""
    text = target[:MAX_INSPECT]
    found = [_normal(text)]
    for _ in range(MAX_DECODES):
        if "%" not in text and "+" not in text:
            break
        decoded = unquote_plus(text, errors="replace")
        if decoded == text:
            break
        text = decoded
        found.append(_normal(text))
    return tuple(dict.fromkeys(found))


def _normal(text: str) -> str:
    text = text.lower().replace("\\", "/")
    return _COMMENT.sub(" ", text) if "/*" in text else text


def target(event: Event) -> str | None:
    """The request target (path and query as sent), or None for malformed/empty request lines."""
    return event.url.original if event.url and event.url.original else None


def status(event: Event) -> int:
    """The response status (0 when the log had none)."""
    response = event.http.response if event.http else None
    return response.status_code if response and response.status_code is not None else 0


def source_address(event: Event) -> str | None:
    """The client: source.ip, else source.domain."""
    src = event.source
    return (src.ip or src.domain) if src else None


def exempt(event: Event, params: WebParams) -> bool:
    """True when the client address lies in an exempt network."""
    ip = event.source.ip if event.source else None
    if ip is None or not params.exempt_sources:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in net for net in params.exempt_sources)


def entity(event: Event) -> Entity:
    """The attacking client with its geo/AS context, and the server when the log names it."""
    src = event.source
    source = Endpoint(ip=src.ip, domain=src.domain, geo=src.geo, **{"as": src.as_}) if src else None
    dst = event.destination
    destination = Endpoint(ip=dst.ip, port=dst.port) if dst and dst.ip else None
    return Entity(source=source, destination=destination)


def path_digest(event: Event) -> str:
    """A short digest of the path (distinct paths are counted without storing what the client chose)."""
    path = (event.url.path if event.url else None) or target(event) or ""
    return blake2b(path[:MAX_INSPECT].encode("utf-8", "replace"), digest_size=6).hexdigest()


def shown(text: str | None, limit: int = 100) -> str:
    """A client-chosen string fit for a message: printable ASCII only, cut at `limit`."""
    text = _UNPRINTABLE.sub("?", (text or "")[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def bump(severity: str) -> str:
    """One step louder (high stays high)."""
    return SEVERITIES[min(SEVERITIES.index(severity) + 1, len(SEVERITIES) - 1)]


def is_success(code: int) -> bool:
    """A 2xx answer: the server did what was asked."""
    return 200 <= code < 300


def report(state: State, severity: str | None, count: int, ts: float, dedup_seconds: float) -> int | None:
    """How many events arrived since the last report when this finding is news, else None.

    Every event with evidence passes through here (severity None: not enough to report yet). News: louder than reported in this dedup period, or at least twice the evidence `count` last
    reported (the alert follows the attack in O(log n) updates, not one per request). Only the
    events since the last report go into the finding, so the alert's event count adds up.
    """
    seen = state.get("n", 0) + 1
    state["n"] = seen
    if severity is None:
        return None
    rank, reported, since, seen_then = state.get("r") or (-1, 0, ts, 0)
    if ts - since >= dedup_seconds:
        rank, reported, since = -1, 0, ts
    if SEVERITIES.index(severity) <= rank and count < 2 * reported:
        return None
    state["r"] = (max(rank, SEVERITIES.index(severity)), count, since, seen)
    return seen - seen_then


def count_matches(
    state: State | None,
    event: Event,
    names: tuple[str, ...],
    params: WebParams,
    threshold: int,
    what: str,
    dedup_seconds: float,
) -> tuple[State | None, list[Finding]]:
    """The SQL-injection and traversal logic: matching requests per client in a window.

    Below `threshold` requests: low (evidence); at it: medium; any answered 2xx: one step louder.
    """
    code = status(event)
    kept = dict(state) if state else {}
    window = windows.add(
        state, event.timestamp.timestamp(), f"{event.event.id} {code} {','.join(names)}", params.window_seconds
    )
    kept["w"] = window["w"]
    items = [item.split(" ") for item in windows.items(window)]
    answered = sum(1 for _, c, _ in items if is_success(int(c)))
    severity = "low" if len(items) < threshold else "medium"
    severity = bump(severity) if answered else severity
    new = report(kept, severity, len(items), event.timestamp.timestamp(), dedup_seconds)
    if new is None:
        return kept, []
    techniques = sorted({n for _, _, found in items for n in found.split(",")})
    finding = Finding(
        message=f"{len(items)} {what} request(s) from {source_address(event)} within {params.window_seconds}s, "
        f"{answered} answered 2xx ({', '.join(techniques)}); latest: {shown(target(event))} -> {code}",
        entity=entity(event),
        timestamp=event.timestamp,
        event_ids=tuple(eid for eid, _, _ in items[-new:]),
        datasets=(event.event.dataset,),
        severity=severity,  # type: ignore[arg-type]
    )
    return kept, [finding]
