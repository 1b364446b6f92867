"""The embedded runtime: the same normalize -> enrich -> detect core over files or stdin, no services."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

from detectors.clock import EventClock
from detectors.engine import Engine, EngineHooks
from detectors.registry import configure
from detectors.sigma.stream import build as sigma_detectors
from detectors.state import DictStore
from pipeline.anomaly.models import ModelWatcher
from pipeline.enrichers.registry import default_enrichers
from pipeline.normalizers import registry
from pipeline.normalizers.base import Normalizer
from pipeline.process import process_record
from pipeline.readers import STDIN, head, read_records
from pipeline.settings import SecmonSettings
from schemas.alert import Alert


@dataclass
class Summary:
    """What one embedded run read, produced and rejected."""

    records: int = 0
    events: int = 0
    dead_letters: Counter = field(default_factory=Counter)
    alerts: dict[str, Alert] = field(default_factory=dict)
    detector_errors: Counter = field(default_factory=Counter)
    late_events: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def render(self) -> str:
        """A short human-readable report."""
        rate = self.events / self.seconds if self.seconds else 0.0
        lines = [f"secmon: {self.records} records, {self.events} events, {sum(self.dead_letters.values())} "
                 f"dead-lettered, {len(self.alerts)} alerts in {self.seconds:.2f}s ({rate:,.0f} events/s)"]
        lines += [f"  dead letter  {code}: {n}" for code, n in sorted(self.dead_letters.items())]
        for alert in sorted(self.alerts.values(), key=lambda a: a.alert.first_seen):
            lines.append(f"  ALERT {alert.alert.severity:<8} {alert.rule.id:<34} x{alert.alert.count}  {alert.message}")
        lines += [f"  detector {d} raised {n} times (see log)" for d, n in sorted(self.detector_errors.items())]
        return "\n".join(lines)


def resolve_source(path: str, source: str | None) -> Normalizer:
    """The normalizer named by --source, or the one that recognises the file's first line."""
    if source:
        return registry.get(source)
    if path == STDIN:
        raise ValueError("cannot infer the format of stdin; pass --source (one of: " + ", ".join(sorted(registry.NORMALIZERS)) + ")")
    found = registry.sniff(head(path))
    if found is None:
        raise ValueError(f"cannot infer the format of {path}; pass --source (one of: {', '.join(sorted(registry.NORMALIZERS))})")
    return found


def build_engine(settings: SecmonSettings, summary: Summary, strict: bool = False) -> Engine:
    """An engine over the configured detectors with state in a dict."""
    hooks = EngineHooks(on_late=lambda det: summary.late_events.update([det]))
    if not strict:
        hooks.on_error = lambda det, _exc, _event: summary.detector_errors.update([det])
    configured = configure(settings.detection.detectors)
    ModelWatcher(settings.anomaly, configured).load_now()  # a model file, if set; else the detectors learn
    sigma = sigma_detectors(settings.detection.sigma, settings.parse.keep_original)
    return Engine(detectors=configured + sigma, store=DictStore(), strict=strict, hooks=hooks,
                  lateness=timedelta(seconds=settings.detection.lateness_seconds))


def run(paths: Sequence[str], settings: SecmonSettings, source: str | None = None,
        dead_letter_out: IO[str] | None = None, progress: IO[str] | None = None,
        until: datetime | None = None) -> Summary:
    """Process every path in order; return the summary with the final state of every alert.

    Timed detectors run on event time; `until` moves the clock once more at the end (e.g. to now,
    to see what is overdue today), else the clock stops at the last event."""
    summary = Summary()
    engine = build_engine(settings, summary)
    clock = EventClock(engine, every=timedelta(seconds=settings.detection.tick_seconds))
    ctx = settings.parse.context()
    enrichers = default_enrichers(settings)
    started = time.perf_counter()
    for path in paths:
        normalizer = resolve_source(path, source)
        records = read_records(path, normalizer, settings.parse.max_record_bytes)
        for record in _with_progress(records, path, progress):
            summary.records += 1
            result = process_record(record, normalizer, enrichers, ctx, settings.parse.max_record_bytes)
            if result.dead_letter is not None:
                summary.dead_letters[result.dead_letter.error_code] += 1
                if dead_letter_out is not None:
                    dead_letter_out.write(json.dumps(result.dead_letter.to_doc()) + "\n")
            for event in result.events:
                summary.events += 1
                for alert in engine.process(event) + clock.observe(event.timestamp):
                    summary.alerts[alert.alert.id] = alert
    for alert in clock.finish(until):
        summary.alerts[alert.alert.id] = alert
    summary.seconds = time.perf_counter() - started
    return summary


def _with_progress(records: Iterable, path: str, progress: IO[str] | None):
    """Pass records through, reporting the count on a terminal every 50k records."""
    for n, record in enumerate(records, 1):
        if progress is not None and n % 50_000 == 0:
            progress.write(f"\r{path}: {n:,} records")
            progress.flush()
        yield record
    if progress is not None:
        progress.write("\r" + " " * 60 + "\r")


def write_alerts(alerts: Iterable[Alert], out: IO[str]) -> None:
    """Alerts as JSON lines, oldest first."""
    for alert in sorted(alerts, key=lambda a: (a.alert.first_seen, a.rule.id, a.alert.id)):
        out.write(json.dumps(alert.to_doc(), sort_keys=True) + "\n")


def stderr_progress() -> IO[str] | None:
    """stderr when it is a terminal, else None."""
    return sys.stderr if sys.stderr.isatty() else None
