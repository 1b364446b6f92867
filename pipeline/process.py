"""The pure processing core both runtimes share: raw record -> events or dead letter -> enriched."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from pipeline.deadletter import of_record
from pipeline.enrichers.base import Enricher, enrich
from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord
from schemas.bounds import Cuts, cutting, truncated_paths
from schemas.deadletter import DeadLetter
from schemas.event import Event
from schemas.secmon_fields import MAX_TRUNCATED

log = logging.getLogger(__name__)
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Processed:
    """Result of one record: its enriched events, or the dead letter saying why there are none."""

    events: list[Event]
    dead_letter: DeadLetter | None = None


def process_record(
    record: RawRecord,
    normalizer: Normalizer,
    enrichers: Sequence[Enricher],
    parse_options: ParseOptions,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Processed:
    """Normalize and enrich one record; every failure becomes a dead letter, nothing escapes.

    A value over its schema bound is cut there and named in `secmon.truncated`, never an error."""
    if len(record.data) > max_record_bytes:
        reason = f"record is {len(record.data)} bytes, over the {max_record_bytes}-byte limit"
        return Processed([], of_record(record, "normalize", "too_large", reason))
    with cutting() as cuts:
        processed = _process(record, normalizer, enrichers, parse_options)
    if cuts:
        for event in processed.events:
            _name_cuts(event, cuts)
    return processed


def _name_cuts(event: Event, cuts: Cuts) -> None:
    names = truncated_paths(event, cuts) - {"secmon.truncated"}
    if names:
        event.secmon.truncated = sorted({*event.secmon.truncated, *names})[:MAX_TRUNCATED]


def _process(
    record: RawRecord, normalizer: Normalizer, enrichers: Sequence[Enricher], parse_options: ParseOptions
) -> Processed:
    try:
        events = normalizer.parse(record, parse_options)
    except ParseError as exc:
        return Processed([], of_record(record, "normalize", exc.code, exc.reason))
    except (
        ValidationError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,
        OverflowError,
        IndexError,
    ) as exc:
        log.warning("normalizer %s raised %s on %s", normalizer.id, type(exc).__name__, record.origin)
        return Processed([], of_record(record, "normalize", "invalid_field", f"{type(exc).__name__}: {exc}"))
    try:
        return Processed([enrich(event, enrichers) for event in events])
    except Exception as exc:  # an enricher bug must not stop the stream: dead-letter and count
        log.exception("enrichment failed for %s", record.origin)
        return Processed([], of_record(record, "enrich", "internal_error", f"{type(exc).__name__}: {exc}"))
