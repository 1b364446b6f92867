"""Evidence of every lifecycle action: audit records in Elasticsearch, control events on Kafka.

A control event is the JSON line the `control` normalizer reads. Sent to `<prefix>-raw-control`
it becomes an event like any producer's, so the compliance detectors (backup_failed,
backup_missing, restore_test_overdue, deletion_sla_breach...) see secmon's own backups and
deletions. It is also kept inside the audit record of the action, so the evidence survives a
Kafka outage (the record says whether Kafka got it).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.kafka.codec import origin_header
from pipeline.kafka.config import kafka_python_kwargs
from pipeline.lifecycle import Names, digest
from pipeline.settings import KafkaSettings, SecmonSettings
from schemas.event import Origin
from schemas.lifecycle import AuditAction, AuditOutcome, AuditRecord, ControlDetails, ControlEvent
from schemas.templates import template

log = logging.getLogger(__name__)
CONTROL_SOURCE = "control"


def control_event(
    kind: str, status: str, *, now: datetime, job_id: str, details: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """The control event (a JSON object for `<prefix>-raw-control`) of one lifecycle step.

    Validated against ControlEvent, so a kind/field typo fails here and not in the normalizer.
    """
    if fields.get("reason"):
        fields["reason"] = fields["reason"][:4000]  # the normalizer bounds reasons; keep the start
    event = ControlEvent(
        timestamp=now,
        kind=kind,
        status=status,
        job_id=job_id,
        details=ControlDetails(**details) if details else None,
        **fields,
    )
    return event.to_doc()


def control_origin(event: dict[str, Any]) -> Origin:
    """A file-like origin unique to (job, status): a re-sent event gets the same event id downstream."""
    return Origin(
        source=CONTROL_SOURCE, file="secmon-lifecycle", file_id=f"{event['job_id']}/{event['status']}", offset=0
    )


class ControlSink:
    """Sends control events to `<topic prefix>-raw-control` (kafka-python, blocking); never raises.

    Kafka is optional for these commands: when it cannot be reached the event is still in the
    audit record, and the run goes on.
    """

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 5.0) -> None:
        self.topic = f"{kafka.topic_prefix}-raw-{CONTROL_SOURCE}"
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._producer: Any = None
        self._unreachable = False

    def send(self, event: dict[str, Any]) -> bool:
        """True once Kafka acknowledged the event; False when it is unreachable or refused it."""
        from kafka.errors import KafkaError

        try:
            producer = self._connect()
            if producer is None:
                return False
            future = producer.send(
                self.topic,
                key=str(event["job_id"]).encode(),
                value=json.dumps(event, separators=(",", ":")).encode(),
                headers=[origin_header(control_origin(event))],
            )
            future.get(timeout=self._timeout_s * 2)
            return True
        except KafkaError as exc:
            log.warning(
                "control event %s %s not sent to Kafka topic %s (%s); it is kept in the audit index. "
                "Check kafka.bootstrap.",
                event["kind"],
                event["status"],
                self.topic,
                exc,
            )
            return False

    def _connect(self) -> Any:
        if self._producer is None and not self._unreachable:
            from kafka import KafkaProducer
            from kafka.errors import KafkaError

            ms = int(self._timeout_s * 1000)
            try:
                self._producer = KafkaProducer(
                    **kafka_python_kwargs(self._kafka), acks="all", bootstrap_timeout_ms=ms, max_block_ms=ms * 2
                )
            except KafkaError as exc:
                self._unreachable = True  # ask once per run, not once per event
                log.warning(
                    "Kafka at %s unreachable (%s): control events go to the audit index only",
                    self._kafka.bootstrap,
                    exc,
                )
        return self._producer

    def close(self) -> None:
        """Flush and close the producer, if one was opened."""
        if self._producer is not None:
            self._producer.close(timeout=self._timeout_s)
            self._producer = None


@dataclass
class Recorder:
    """What one command run writes as evidence: audit records, and the control events they carry."""

    es: AsyncElasticsearch
    names: Names
    operator: str
    sink: ControlSink | None = None
    _ready: set[str] = field(default_factory=set)

    async def ensure(self, kind: str) -> str:
        """Create the concrete index of a record kind (audit, receipts, holds) once; return its name.

        Created with the generated template's mappings explicitly, so a renamed index
        (lifecycle.*_index) is as strict as the default one.
        """
        index = self.names.record_index(kind)
        if index not in self._ready:
            body = template(kind, self.names.prefix)["template"]
            resp = await self.es.options(ignore_status=400).indices.create(
                index=index,
                settings=body["settings"],
                mappings=body["mappings"],
                aliases={self.names.record_alias(kind): {}},
            )
            error = resp.body.get("error") if isinstance(resp.body, dict) else None
            if error and error.get("type") != "resource_already_exists_exception":
                raise RuntimeError(
                    f"cannot create index {index}: {error.get('reason')}; check es.index_prefix "
                    "and lifecycle.*_index settings"
                )
            self._ready.add(index)
        return index

    async def record(
        self,
        action: AuditAction,
        outcome: AuditOutcome,
        *,
        now: datetime,
        job_id: str,
        message: str,
        target: str | None = None,
        control: dict[str, Any] | None = None,
        hold_ids: Iterable[str] = (),
        documents: int | None = None,
        dedup: tuple[object, ...] | None = None,
        send: bool = True,
    ) -> AuditRecord:
        """Send the control event (if any, unless not `send`) to Kafka, then write the audit record.

        The record's id comes from `dedup` (default: action, outcome, job, target), so a re-run
        after a crash writes nothing twice. `send=False` keeps a control event in the record only
        (an intent whose event is sent once the action is done).
        """
        delivered = None
        if control is not None and self.sink is not None and send:
            delivered = await asyncio.to_thread(self.sink.send, control)  # kafka-python blocks
        rec = AuditRecord(
            timestamp=now,
            action=action,
            outcome=outcome,
            job_id=job_id,
            operator=self.operator,
            target=target,
            message=message,
            hold_ids=list(hold_ids),
            documents=documents,
            control=ControlEvent.model_validate(control) if control else None,
            kafka_delivered=delivered,
        )
        doc_id = digest(*(dedup or (action, outcome, job_id, target)))
        await self.es.options(ignore_status=409).create(
            index=await self.ensure("audit"), id=doc_id, document=rec.to_doc()
        )
        log.info("audit: %s %s %s: %s", action, outcome, target or job_id, message)
        return rec

    async def close(self) -> None:
        """Close the Kafka producer (blocking flush off the event loop)."""
        if self.sink is not None:
            await asyncio.to_thread(self.sink.close)


@asynccontextmanager
async def session(settings: SecmonSettings, operator: str | None = None) -> AsyncIterator[Recorder]:
    """An Elasticsearch client and a Recorder for one run (control events to Kafka when enabled)."""
    from pipeline.sinks.elasticsearch import client

    async with client(settings.es) as es:
        sink = ControlSink(settings.kafka) if settings.lifecycle.emit_to_kafka else None
        rec = Recorder(es, Names.of(settings), operator or getpass.getuser(), sink)
        try:
            yield rec
        finally:
            await rec.close()
