"""Detections as code: each detector's case file (events in, expected alerts out) and its runner.

A case file `detectors/rules/<id>.cases.yaml` holds cases like:

    cases:
      - name: ten failures in a minute raise one alert
        params: {threshold: 10}            # optional overrides
        defaults: {event.dataset: app.signin, event.outcome: failure, user.name: bob}
        events:
          - {"@timestamp": "2026-11-30T10:00:00Z", source.ip: 203.0.113.9, repeat: 10, every: 5s}
        expect:
          - {rule.id: signin_bruteforce_user, user.name: bob, alert.count: 1}

Events are dotted ECS paths; `repeat`/`every` expand bursts; `in_time_order: true` delivers the
expanded events sorted by time (several `repeat` series interleaved), else they arrive as listed.
`expect` lists every alert the case must end with (final state per alert id), each as a subset of dotted fields; `expect: []` is a
negative case. Timed detectors are ticked by event time (`tick_every`, default 1m) and once more
at `until` (default: the last event's time), so deadline cases need no wall clock. The same
runner backs the test suite and `secmon detectors test`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from detectors.base import Detector
from detectors.clock import EventClock
from detectors.engine import Engine
from detectors.state import DictStore
from schemas.alert import Alert
from schemas.event import Event

RULES_DIR = Path(__file__).parent / "rules"
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass
class CaseResult:
    """Outcome of one case: ok, or what differed."""

    detector: str
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the alerts matched the expectation."""
        return not self.problems


def case_file(detector_id: str) -> Path:
    """Path of a detector's case file."""
    return RULES_DIR / f"{detector_id}.cases.yaml"


def load_cases(detector_id: str) -> list[dict[str, Any]]:
    """The cases of one detector (a missing file is an error the corpus test reports)."""
    data = yaml.safe_load(case_file(detector_id).read_text(encoding="utf-8")) or {}
    return list(data.get("cases", []))


def run_case(detector: Detector, case: dict[str, Any]) -> CaseResult:
    """Run one case with a fresh engine (strict: a detector exception fails the case)."""
    result = CaseResult(detector.meta.id, case.get("name", "?"))
    try:
        params = detector.params.model_validate(case.get("params", {}))
        engine = Engine(
            detectors=[(detector, params)],
            store=DictStore(),
            strict=True,
            lateness=parse_duration(case.get("lateness", "5m")),
        )
        clock = EventClock(engine, every=parse_duration(case.get("tick_every", "1m")))
        alerts: dict[str, Alert] = {}
        events = expand_events(case.get("events", []), case.get("defaults", {}))
        if case.get("in_time_order"):  # interleave `repeat` series (a month of several users' routines)
            events.sort(key=lambda e: e.timestamp)
        for event in events:
            for alert in engine.process(event) + clock.observe(event.timestamp):
                alerts[alert.alert.id] = alert
        until = _instant(case["until"]) if "until" in case else None
        for alert in clock.finish(until):
            alerts[alert.alert.id] = alert
    except Exception as exc:  # a case that crashes is a failed case, reported with the reason
        result.problems.append(f"raised {type(exc).__name__}: {exc}")
        return result
    result.problems += compare(list(alerts.values()), case.get("expect", []))
    return result


def compare(alerts: list[Alert], expected: list[dict[str, Any]]) -> list[str]:
    """Differences between the alerts raised and the expected subsets (order-independent)."""
    docs = [flatten(a.to_doc()) for a in alerts]
    problems = []
    if len(docs) != len(expected):
        problems.append(
            f"expected {len(expected)} alert(s), got {len(docs)}: "
            + "; ".join(f"{d.get('rule.id')} {d.get('alert.dedup_key')} x{d.get('alert.count')}" for d in docs)
        )
    remaining = list(docs)
    for want in expected:
        match = next((d for d in remaining if all(_equal(d.get(k), v) for k, v in want.items())), None)
        if match is None:
            problems.append(f"no alert matches {want}")
        else:
            remaining.remove(match)
    return problems


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list) and not isinstance(wanted, list):
        return wanted in actual
    return actual == wanted or str(actual) == str(wanted)


def expand_events(specs: list[dict[str, Any]], defaults: dict[str, Any]) -> list[Event]:
    """Build Events from dotted specs, expanding `repeat`/`every`; ids are `e<n>`."""
    events: list[Event] = []
    for spec in specs:
        spec = {**defaults, **spec}
        repeat = int(spec.pop("repeat", 1))
        every = parse_duration(spec.pop("every", "1s"))
        start = _instant(spec.pop("@timestamp"))
        for i in range(repeat):
            fields = dict(spec)
            fields["@timestamp"] = (start + every * i).isoformat()
            fields.setdefault("event.id", f"e{len(events) + 1}")
            events.append(make_event(fields))
    return events


def make_event(fields: dict[str, Any]) -> Event:
    """An Event from dotted ECS paths, with defaults for what a case does not care about."""
    fields = {"event.module": "case", "secmon.origin.source": "case", **fields}
    fields.setdefault("event.dataset", "app.signin")
    return Event.model_validate(unflatten(fields))


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}; `@timestamp` stays whole."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = [key] if key.startswith("@") else key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; a list of objects gives lists: {"a": [{"b": 1}, {"b": 2}]} -> {"a.b": [1, 2]}."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                for sub, v in flatten(item, path + ".").items():
                    out.setdefault(sub, []).append(v)
        else:
            out[path] = value
    return out


def parse_duration(text: str | int) -> timedelta:
    """`90s`, `5m`, `2h`, `14d` (or plain seconds) -> timedelta."""
    if isinstance(text, int):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"bad duration {text!r}; use e.g. 30s, 5m, 2h, 14d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _instant(value: Any) -> datetime:
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)
