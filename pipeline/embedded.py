"""The embedded runtime: the same normalize -> enrich -> detect core over files or stdin, no services."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

from detectors.clock import EventClock
from detectors.engine import Engine, EngineHooks
from detectors.registry import configure
from detectors.sigma.stream import build as sigma_detectors
from detectors.state import DictStore
from pipeline.anomaly.models import ModelWatcher
from pipeline.deadletter import of_record
from pipeline.enrichers.registry import default_enrichers
from pipeline.failures import Terminated
from pipeline.heap import tune_gc
from pipeline.normalizers import registry
from pipeline.normalizers.base import Normalizer, RawRecord
from pipeline.process import process_record
from pipeline.readers import STDIN, head, read_records
from pipeline.settings import SecmonSettings
from schemas.alert import Alert

SCREENFUL = 20  # alerts listed one per line; beyond this, one rollup line per rule
TOP_ENTITIES = 3


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
    interrupted: str | None = None  # what stopped the run early: Ctrl-C or SIGTERM
    kept_dead_letters: bool = False  # --dead-letter-out was given
    notes: list[str] = field(default_factory=list)  # warnings for the reader (file order, ...)
    samples: dict[str, bytes] = field(default_factory=dict)  # first bytes of each input, to name its format

    @property
    def rejected(self) -> int:
        """Records dead-lettered."""
        return sum(self.dead_letters.values())

    def mostly_rejected(self) -> bool:
        """More than half of the records were rejected: probably the wrong format."""
        return self.rejected > 0 and self.rejected * 2 > self.records

    def render(self, verbose: bool = False) -> str:
        """A short human-readable report: totals, what was lost and why, then the alerts."""
        rate = self.events / self.seconds if self.seconds else 0.0
        lines = [
            f"secmon: {self.records} records, {self.events} events, {self.rejected} "
            f"dead-lettered, {len(self.alerts)} alerts in {self.seconds:.2f}s ({rate:,.0f} events/s)"
            + (f" (interrupted: {self.interrupted})" if self.interrupted else "")
        ]
        lines += [f"  note: {note}" for note in self.notes]
        keep = "" if self.kept_dead_letters else " (--dead-letter-out FILE keeps them)"
        lines += [f"  dead letter  {code}: {n}{keep}" for code, n in sorted(self.dead_letters.items())]
        lines += [
            f"  late events  {det}: {n} dropped, older than the lateness window (give files oldest first, "
            "or raise detection.lateness_seconds)"
            for det, n in sorted(self.late_events.items())
        ]
        lines += [f"  detector {d} raised {n} times (see log)" for d, n in sorted(self.detector_errors.items())]
        alerts = sorted(self.alerts.values(), key=lambda a: a.alert.first_seen)
        if verbose or len(alerts) <= SCREENFUL:
            lines += [f"  ALERT {a.alert.severity:<8} {a.rule.id:<34} x{a.alert.count}  {a.message}" for a in alerts]
        else:
            lines += _rollup(alerts)
        return "\n".join(lines)


def _rollup(alerts: Sequence[Alert]) -> list[str]:
    """One line per rule: how many alerts, the severity, and the entities with the most findings."""
    by_rule: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_rule.setdefault(alert.rule.id, []).append(alert)
    lines = []
    for rule_id, group in sorted(by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        counts: Counter = Counter()
        for alert in group:
            counts[alert.alert.dedup_key] += alert.alert.count
        top = ", ".join(f"{key} x{n}" for key, n in counts.most_common(TOP_ENTITIES))
        lines.append(f"  {len(group):>6} ALERTS {group[0].alert.severity:<8} {rule_id:<34} top: {top}")
    lines.append("  (one line per rule; --verbose lists every alert)")
    return lines


def resolve_source(path: str, source: str | None) -> Normalizer:
    """The normalizer named by --source, or the one that recognises the file's first line."""
    if source:
        return registry.get(source)
    if path == STDIN:
        raise ValueError(
            "cannot infer the format of stdin; pass --source (one of: " + ", ".join(sorted(registry.NORMALIZERS)) + ")"
        )
    found = registry.sniff(head(path))
    if found is None:
        raise ValueError(
            f"cannot infer the format of {path}; pass --source (one of: {', '.join(sorted(registry.NORMALIZERS))})"
        )
    return found


def build_engine(settings: SecmonSettings, summary: Summary, strict: bool = False) -> Engine:
    """An engine over the configured detectors with state in a dict."""
    hooks = EngineHooks(on_late=lambda det: summary.late_events.update([det]))
    if not strict:
        hooks.on_error = lambda det, _exc, _event: summary.detector_errors.update([det])
    configured = configure(settings.detection.detectors)
    ModelWatcher(settings.anomaly, configured).load_now()  # a model file, if set; else the detectors learn
    sigma = sigma_detectors(settings.detection.sigma, settings.parse.keep_original)
    return Engine(
        detectors=configured + sigma,
        store=DictStore(),
        strict=strict,
        hooks=hooks,
        lateness=timedelta(seconds=settings.detection.lateness_seconds),
    )


def run(
    paths: Sequence[str],
    settings: SecmonSettings,
    source: str | None = None,
    dead_letter_out: IO[str] | None = None,
    progress: IO[str] | None = None,
    until: datetime | None = None,
    on_alert: Callable[[Alert], None] | None = None,
    events_out: IO[str] | None = None,
    tune_heap: bool = False,
) -> Summary:
    """Process every path, oldest file first; return the summary with the final state of every alert.

    Timed detectors run on event time; `until` moves the clock once more at the end (e.g. to now,
    to see what is overdue today), else the clock stops at the last event. `on_alert` sees every
    alert as it is raised or updated (streaming); Ctrl-C ends the run with what was raised so far.
    `tune_heap` (for a process that exists to run this, as `secmon run`) freezes what was built
    out of the cycle collector's scans (pipeline.heap): process-wide, so a library caller or a
    test process leaves it off."""
    summary = Summary(kept_dead_letters=dead_letter_out is not None)
    engine = build_engine(settings, summary)
    clock = EventClock(engine, every=timedelta(seconds=settings.detection.tick_seconds))
    parse_options = settings.parse.options()
    enrichers = default_enrichers(settings)
    if tune_heap:
        tune_gc()  # what was built above lives as long as the run: out of the collector's scans
    started = time.perf_counter()

    def raised(alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            summary.alerts[alert.alert.id] = alert
            if on_alert is not None:
                on_alert(alert)

    def broken(record: RawRecord, reason: str) -> None:
        summary.dead_letters["truncated_input"] += 1
        if dead_letter_out is not None:
            dead_letter_out.write(json.dumps(of_record(record, "ship", "truncated_input", reason).to_doc()) + "\n")

    try:
        for path, normalizer in in_time_order(paths, source, settings, summary.notes):
            records = read_records(path, normalizer, settings.parse.max_record_bytes, on_broken=broken)
            for record in _with_progress(records, path, progress):
                summary.records += 1
                if len(summary.samples.get(path, b"")) < 64 * 1024:
                    summary.samples[path] = summary.samples.get(path, b"") + record.data + b"\n"
                result = process_record(record, normalizer, enrichers, parse_options, settings.parse.max_record_bytes)
                if result.dead_letter is not None:
                    summary.dead_letters[result.dead_letter.error_code] += 1
                    if dead_letter_out is not None:
                        dead_letter_out.write(json.dumps(result.dead_letter.to_doc()) + "\n")
                for event in result.events:
                    summary.events += 1
                    if events_out is not None:
                        events_out.write(json.dumps(event.to_doc(), sort_keys=True) + "\n")
                    raised(engine.process(event) + clock.observe(event.timestamp))
        raised(clock.finish(until))
    except KeyboardInterrupt as stop:  # Ctrl-C on `tail -f | secmon run -`, or SIGTERM: keep what was raised
        summary.interrupted = "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"
    summary.seconds = time.perf_counter() - started
    return summary


def in_time_order(
    paths: Sequence[str], source: str | None, settings: SecmonSettings, notes: list[str]
) -> list[tuple[str, Normalizer]]:
    """The inputs with their normalizers, files sorted by their first event's time (detectors need time order).

    Missing or unreadable paths fail here, before anything runs. Stdin keeps its place; a file
    whose first event has no time keeps its place too, and a note says so."""
    chosen = [(path, resolve_source(path, source)) for path in paths]
    if len(chosen) < 2 or STDIN in paths:
        return chosen
    firsts = {path: first_timestamp(path, normalizer, settings) for path, normalizer in chosen}
    unknown = [path for path, ts in firsts.items() if ts is None]
    if unknown:
        notes.append(
            f"kept the given order: no event time found at the start of {', '.join(unknown)}; "
            "give the files oldest first"
        )
        return chosen
    ordered = sorted(chosen, key=lambda pn: firsts[pn[0]])  # type: ignore[arg-type, return-value]
    if ordered != chosen:
        notes.append("read the files oldest first (by their first event): " + ", ".join(p for p, _ in ordered))
    return ordered


def first_timestamp(path: str, normalizer: Normalizer, settings: SecmonSettings, probe: int = 50) -> datetime | None:
    """Time of the first event among a file's first `probe` records, or None."""
    parse_options = settings.parse.options()
    for n, record in enumerate(read_records(path, normalizer, settings.parse.max_record_bytes, on_broken=_ignore)):
        if n >= probe:
            return None
        events = process_record(record, normalizer, [], parse_options, settings.parse.max_record_bytes).events
        if events:
            return events[0].timestamp
    return None


def _ignore(_record: RawRecord, _reason: str) -> None:
    """The probe of a file's start reports nothing; the run itself dead-letters a broken stream."""


def rejected_hint(summary: Summary, source: str | None) -> str:
    """What to do when most records were rejected: the format the sniffer recognises, if any."""
    guesses = {path: registry.sniff(sample) for path, sample in summary.samples.items()}
    named = {path: n.id for path, n in guesses.items() if n is not None and n.id != source}
    if named:
        return (
            "the input looks like "
            + ", ".join(f"{sid} ({path})" for path, sid in named.items())
            + f": pass --source {next(iter(named.values()))}, or leave --source out for files"
        )
    return "check --source (`secmon sources` lists the formats) and the dead letters (--dead-letter-out FILE)"


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
