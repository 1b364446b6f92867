"""Train the anomaly models from history: log files (as `secmon run` reads them) or Elasticsearch.

History must be in time order (files in the order given, Elasticsearch sorted by @timestamp),
because every vector is computed from the profile as it stood just before its event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from elasticsearch import AsyncElasticsearch

from detectors.anomaly.artifact import Bundle
from detectors.anomaly.detector import AnomalyParams
from detectors.anomaly.kinds import BEHAVIOURS
from detectors.anomaly.train import Replay
from detectors.registry import configure
from pipeline.settings import SecmonSettings
from schemas.event import Event

log = logging.getLogger(__name__)
PAGE = 5000


def replays(settings: SecmonSettings) -> list[Replay]:
    """One replay per enabled anomaly detector, with its configured profile maturity."""
    out = []
    for det, params in configure(settings.detection.detectors):
        if det.meta.id in BEHAVIOURS and isinstance(params, AnomalyParams):
            out.append(
                Replay(
                    BEHAVIOURS[det.meta.id], det.entity_key, params.min_history, min_samples=params.learn_min_samples
                )
            )
    if not out:
        raise ValueError("no anomaly detector is enabled (detection.detectors.anomaly_*.enabled): nothing to train")
    return out


def fit_all(trained: Sequence[Replay], source: str) -> tuple[Bundle, list[str]]:
    """A model per behaviour with enough history, and a line for each one left out."""
    bundle, skipped = {}, []
    for r in trained:
        if len(r.vectors) < r.min_samples:
            skipped.append(
                f"{r.behaviour.kind}: {len(r.vectors)} scorable events in {r.events} (need "
                f"{r.min_samples}, detection.detectors.{r.behaviour.detector}.params.learn_min_samples; "
                "give more history)"
            )
            continue
        bundle[r.behaviour.kind] = r.fit(source)
    if not bundle:
        raise ValueError("not enough history to train any model: " + "; ".join(skipped))
    return bundle, skipped


def file_events(
    paths: Sequence[str], settings: SecmonSettings, source: str | None, until: datetime | None = None
) -> Iterator[Event]:
    """The enriched events of log files, read exactly as `secmon run` reads them."""
    from pipeline.embedded import resolve_source
    from pipeline.enrichers.registry import default_enrichers
    from pipeline.process import process_record
    from pipeline.readers import read_records

    enrichers, parse_options, limit = (
        default_enrichers(settings),
        settings.parse.options(),
        settings.parse.max_record_bytes,
    )
    for path in paths:
        normalizer = resolve_source(path, source)
        for record in read_records(path, normalizer, limit):
            for event in process_record(record, normalizer, enrichers, parse_options, limit).events:
                if until is None or event.timestamp < until:
                    yield event


def train_files(
    paths: Sequence[str], settings: SecmonSettings, source: str | None, until: datetime | None = None
) -> tuple[Bundle, list[str]]:
    """Models trained on log files."""
    trained = replays(settings)
    _feed(file_events(paths, settings, source, until), trained)
    return fit_all(trained, f"files: {', '.join(paths)}"[:512])


async def es_events(
    es: AsyncElasticsearch, prefix: str, datasets: Iterable[str], since: datetime, until: datetime
) -> AsyncIterator[Event]:
    """Events of `datasets` between `since` and `until` from the event indices, oldest first (PIT paging)."""
    index = ",".join(f"{prefix}-events-{d}-*" for d in sorted(set(datasets)))
    pit = await es.options(ignore_status=404).open_point_in_time(index=index, keep_alive="2m", ignore_unavailable=True)
    pit_id = pit.get("id") if pit else None
    if not pit_id:
        return
    query = {"range": {"@timestamp": {"gte": since.isoformat(), "lt": until.isoformat()}}}
    after = None
    try:
        while True:
            page = await es.search(
                pit={"id": pit_id, "keep_alive": "2m"},
                query=query,
                size=PAGE,
                sort=[{"@timestamp": "asc"}, {"event.id": "asc"}],
                search_after=after,
                track_total_hits=False,
            )
            hits = page["hits"]["hits"]
            for hit in hits:
                yield Event.model_validate(hit["_source"])
            if len(hits) < PAGE:
                return
            after, pit_id = hits[-1]["sort"], page.get("pit_id", pit_id)
    finally:
        await es.options(ignore_status=404).close_point_in_time(id=pit_id)


async def train_es(
    es: AsyncElasticsearch, settings: SecmonSettings, now: datetime, days: int | None = None
) -> tuple[Bundle, list[str]]:
    """Models trained on the last `days` (default anomaly.history_days) of indexed events."""
    days = days or settings.anomaly.history_days
    trained = replays(settings)
    datasets = [d for r in trained for d in _datasets(r)]
    since = now - timedelta(days=days)
    async for event in es_events(es, settings.es.index_prefix, datasets, since, now):
        for r in trained:
            r.add(event)
    return fit_all(trained, f"elasticsearch: {settings.es.index_prefix}-events, {days} days until {now.isoformat()}")


def _datasets(r: Replay) -> tuple[str, ...]:
    from detectors.registry import DETECTORS

    return DETECTORS[r.behaviour.detector].meta.datasets


def _feed(events: Iterable[Event], trained: Sequence[Replay]) -> None:
    for n, event in enumerate(events, 1):
        for r in trained:
            r.add(event)
        if n % 100_000 == 0:
            log.info("training: %d events read", n)
