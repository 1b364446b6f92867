"""Elasticsearch sink: client, index naming, template install, idempotent bulk writes.

Retry is decided here and only here: 429/502/503/504 per document with backoff (the helper),
connection errors and timeouts for the whole batch with backoff (this module), 409 on create
means "already written" (a replay), any other 4xx is permanent and goes to the dead letter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, TransportError
from elasticsearch.helpers import async_streaming_bulk
from elasticsearch.serializer import OrjsonSerializer

from pipeline import metrics
from pipeline.settings import EsSettings
from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.event import Event
from schemas.templates import TEMPLATES, template

log = logging.getLogger(__name__)
RETRY_STATUS = (429, 502, 503, 504)


class RetryableWriteError(Exception):
    """Elasticsearch kept refusing a document with a retryable status; retry the batch later."""


@asynccontextmanager
async def client(cfg: EsSettings):
    """An AsyncElasticsearch client configured from settings (auth and TLS, never logged)."""
    kwargs: dict[str, Any] = {
        "request_timeout": cfg.request_timeout,
        "retry_on_timeout": True,
        "max_retries": 3,
        "serializer": OrjsonSerializer(),
    }  # bulk bodies and responses: orjson
    if cfg.api_key is not None:
        kwargs["api_key"] = cfg.api_key.get_secret_value()
    elif cfg.username and cfg.password is not None:
        kwargs["basic_auth"] = (cfg.username, cfg.password.get_secret_value())
    if cfg.ca_certs is not None:
        kwargs["ca_certs"] = str(cfg.ca_certs)
    if not cfg.verify_certs:
        kwargs["verify_certs"] = False
    es = AsyncElasticsearch([u.strip() for u in cfg.url.split(",")], **kwargs)
    try:
        yield es
    finally:
        await es.close()


def _day(ts: datetime) -> str:
    return f"{ts.year}.{ts.month:02d}.{ts.day:02d}"  # strftime("%Y.%m.%d") (unpadded year), at a third of its cost


def event_index(prefix: str, event: Event) -> str:
    """Index of an event: per dataset and event day, so a replay lands on the same index and id."""
    return f"{prefix}-events-{event.event.dataset}-{_day(event.timestamp)}"


def alert_index(prefix: str, alert: Alert) -> str:
    """Index of an alert: the day of its first finding (stable while the alert is updated)."""
    return f"{prefix}-alerts-{_day(alert.alert.first_seen)}"


def deadletter_index(prefix: str, letter: DeadLetter) -> str:
    """Index of a dead letter: the day it was dead-lettered."""
    return f"{prefix}-deadletter-{_day(letter.timestamp)}"


def deadletter_id(letter: DeadLetter) -> str:
    """Deterministic id: the record's origin, stage and reason code (a re-read of the topic is a 409)."""
    o = letter.origin
    parts = (
        letter.stage,
        letter.error_code,
        o.source,
        o.file_id,
        o.file,
        o.offset,
        o.index,
        o.topic,
        o.partition,
        o.kafka_offset,
        letter.original_size,
    )
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()


async def install_templates(es: AsyncElasticsearch, prefix: str) -> list[str]:
    """Create or upgrade secmon's index templates; unchanged templates are left alone."""
    names = []
    for kind in TEMPLATES:
        name = f"{prefix}-{kind}"
        body = template(kind, prefix)
        existing = await es.options(ignore_status=404).indices.get_index_template(name=name)
        current = existing.get("index_templates", []) if existing else []
        if not current or current[0]["index_template"].get("version") != body["version"]:
            await es.indices.put_index_template(name=name, **body)
            log.info("installed index template %s version %s", name, body["version"])
        names.append(name)
    return names


@dataclass
class BulkReport:
    """Per-document outcome of one bulk write."""

    created: int = 0
    duplicates: int = 0
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)


@dataclass
class BulkSink:
    """Writes documents with deterministic ids; `create` for events, `index` (upsert) for alerts."""

    es: AsyncElasticsearch
    cfg: EsSettings
    max_attempts: int = 0  # whole-batch retries on connection errors; 0 = until it works

    def event_actions(self, events: Iterable[Event]) -> list[dict[str, Any]]:
        """Bulk actions for events held as models (retro-hunt, lifecycle, benches): op_type create,
        so a second write of an id is a 409; each document is the event's `to_doc()`."""
        return [
            {
                "_op_type": "create",
                "_index": event_index(self.cfg.index_prefix, e),
                "_id": e.event.id,
                "_source": e.to_doc(),
            }
            for e in events
        ]

    def encoded_event_actions(self, events: Iterable[tuple[Event, bytes]]) -> list[dict[str, Any]]:
        """Bulk actions for events: op_type create, so a second write of an id is a 409. Each event's
        document is already encoded (its JSON object as the events topic carries it): the bytes go
        into the bulk body as they are, not decoded and encoded again."""
        return [
            {"_op_type": "create", "_index": event_index(self.cfg.index_prefix, e), "_id": e.event.id, "_source": raw}
            for e, raw in events
        ]

    def alert_actions(self, alerts: Iterable[Alert]) -> list[dict[str, Any]]:
        """Bulk actions for alerts: op_type index versioned by count, so an older update never wins."""
        return [
            {
                "_op_type": "index",
                "_index": alert_index(self.cfg.index_prefix, a),
                "_id": a.alert.id,
                "_version": a.alert.count,
                "_version_type": "external_gte",
                "_source": a.to_doc(),
            }
            for a in alerts
        ]

    def deadletter_actions(self, letters: Iterable[DeadLetter]) -> list[dict[str, Any]]:
        """Bulk actions for dead letters: op_type create with an id derived from the record's origin."""
        return [
            {
                "_op_type": "create",
                "_index": deadletter_index(self.cfg.index_prefix, d),
                "_id": deadletter_id(d),
                "_source": d.to_doc(),
            }
            for d in letters
        ]

    async def write(self, actions: list[dict[str, Any]], kind: str) -> BulkReport:
        """Write every action; retry transport failures with backoff; classify each item."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._write_once(actions, kind)
            except (TransportError, ApiError, RetryableWriteError) as exc:
                # Whole-request failures (node down, timeout, auth, overload) are never acked away:
                # the batch waits here, which backpressures the consumer, until the write succeeds.
                metrics.ES_WRITES.labels(kind=kind, outcome="retry").inc()
                if self.max_attempts and attempt >= self.max_attempts:
                    raise
                delay = min(30.0, 0.5 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.0)
                log.warning(
                    "Elasticsearch write of %d %s documents failed (%s: %s); retry %d in %.1fs. "
                    "Check es.url, credentials and cluster health.",
                    len(actions),
                    kind,
                    type(exc).__name__,
                    str(exc)[:200],
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _write_once(self, actions: list[dict[str, Any]], kind: str) -> BulkReport:
        report = BulkReport()
        by_id = {(a["_index"], a["_id"]): a for a in actions}
        async for ok, item in async_streaming_bulk(
            self.es,
            actions,
            chunk_size=self.cfg.bulk_max_docs,
            max_chunk_bytes=self.cfg.bulk_max_bytes,
            raise_on_error=False,
            raise_on_exception=True,
            max_retries=self.cfg.max_retries,
            initial_backoff=0.5,
            max_backoff=30,
            retry_on_status=RETRY_STATUS,
        ):
            result = next(iter(item.values()))
            status = result.get("status", 0)
            if ok:
                report.created += 1
                metrics.ES_WRITES.labels(kind=kind, outcome="written").inc()
            elif status == 409:
                report.duplicates += 1
                metrics.ES_WRITES.labels(kind=kind, outcome="duplicate").inc()
            elif status in RETRY_STATUS or status >= 500:
                metrics.ES_WRITES.labels(kind=kind, outcome="retry").inc()
                raise RetryableWriteError(f"bulk item still failing with {status} after retries")
            else:
                metrics.ES_WRITES.labels(kind=kind, outcome="rejected").inc()
                reason = _reason(result)
                report.rejected.append((by_id[(result.get("_index"), result.get("_id"))], reason))
        return report


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error") or {}
    if isinstance(error, dict):
        return f"{result.get('status')} {error.get('type', 'error')}: {error.get('reason', '')}"[:2000]
    return f"{result.get('status')} {error}"[:2000]
