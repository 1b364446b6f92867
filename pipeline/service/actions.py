"""`secmon actions`: the worker that carries out response actions (sign out all devices).

It reads `<topic prefix>-actions`; the request document in `<prefix>-signout-requests` is the
outbox. A request still `requested` is POSTed, signed, to the SaaS application's revocation
endpoint and retried as delivery retries (pipeline.delivery.retry decides); once accepted, the
`signout_all executed` control event goes to `<topic prefix>-raw-control` (the audit detector and
dashboards read it), then the request becomes `delivered`, then the offset is committed. A
request already `delivered` or `failed` is skipped, so a redelivered message (after a crash or
restart) never signs anyone out twice; a crash between the POST and the record re-sends with the
same `webhook-id`, which the application deduplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.delivery.config import RetrySettings, signing_key
from pipeline.delivery.http import HttpClient
from pipeline.delivery.receivers import session_revocation
from pipeline.delivery.retry import attempt, next_step, session
from pipeline.kafka.codec import origin_header
from pipeline.normalizers.control import ControlRecord
from pipeline.service import audit
from pipeline.service.signout import SignoutStatus, actions_topic, ensure_requests_index, load, requests_index
from pipeline.settings import SecmonSettings
from schemas.event import Origin

log = logging.getLogger(__name__)


def control_event(status: SignoutStatus, at: datetime) -> dict[str, Any]:
    """The `signout_all executed` control event of a delivered request (validated as the normalizer reads it)."""
    event = {
        "timestamp": at.isoformat(),
        "kind": "signout_all",
        "status": "executed",
        "job_id": status.request_id,
        "workspace": status.workspace,
        "user": status.user,
        "actor": status.actor,
    }
    ControlRecord.model_validate(event)
    return event


def control_origin(request_id: str) -> Origin:
    """One origin per request: a re-sent control event gets the same event id downstream."""
    return Origin(source="control", file="secmon-signout", file_id=f"{request_id}/executed", offset=0)


class ActionWorker:
    """Carries out one sign-out action at a time; state lives in the request index, not here."""

    def __init__(self, settings: SecmonSettings, es: AsyncElasticsearch, http: HttpClient, producer: Any) -> None:
        cfg = settings.service
        if cfg.revoke_url is None or cfg.revoke_secret is None:
            raise ValueError(
                "service.revoke_url and service.revoke_secret are required by `secmon actions`; set "
                "SECMON_SERVICE_REVOKE_URL and SECMON_SERVICE_REVOKE_SECRET (whsec_...)"
            )
        self.settings, self.es, self.http, self.producer = settings, es, http, producer
        self.url, self.key = cfg.revoke_url.get_secret_value(), signing_key(cfg.revoke_secret)
        self.retry = RetrySettings(
            max_attempts=cfg.revoke_max_attempts,
            initial_backoff_seconds=cfg.revoke_backoff_seconds,
            budget_seconds=cfg.revoke_budget_seconds,
        )
        self.prefix = settings.es.index_prefix

    async def handle(self, action: dict[str, Any]) -> SignoutStatus | None:
        """Carry out the action unless it is already done; the request's final status (None: not ours)."""
        if action.get("kind") != "signout_all":
            log.warning("skipping action of unknown kind %r", str(action.get("kind"))[:40])
            return None
        status = await load(self.es, self.prefix, str(action.get("request_id")))
        if status is None:
            log.warning("sign-out request %s has no record; skipped", str(action.get("request_id"))[:40])
            return None
        if status.status != "requested":
            return status  # done before (a redelivered message): never twice
        since = time.time()
        while True:
            outcome = await attempt(
                self.http,
                session_revocation.render(action, self.url, self.key, time.time()),
                self.settings.service.revoke_timeout_seconds,
            )
            step, when = next_step(outcome, status.attempts + 1, since, time.time(), self.retry)
            status = status.model_copy(
                update={
                    "attempts": status.attempts + 1,
                    "http_status": outcome.status,
                    "reason": outcome.error,
                    "updated_at": _now(),
                }
            )
            if step != "retry":
                break
            await self._save(status)
            log.info(
                "sign-out %s: attempt %d failed (%s), retrying",
                status.request_id,
                status.attempts,
                outcome.error or outcome.status,
            )
            await asyncio.sleep(max(0.0, (when or 0) - time.time()))
        return await self._finish(status, delivered=step == "delivered")

    async def _finish(self, status: SignoutStatus, delivered: bool) -> SignoutStatus:
        status = status.model_copy(update={"status": "delivered" if delivered else "failed"})
        if delivered:
            event = control_event(status, status.updated_at or _now())
            await self.producer.send_and_wait(
                f"{self.settings.kafka.topic_prefix}-raw-control",
                json.dumps(event, separators=(",", ":")).encode(),
                key=status.request_id.encode(),
                headers=[origin_header(control_origin(status.request_id))],
            )
        await self._save(status)
        await audit.write_audit(
            self.es,
            self.prefix,
            audit.audit_doc(
                _now(),
                "signout_" + status.status,
                200 if delivered else 502,
                None,
                workspace=status.workspace,
                target_user=status.user,
                request_id=status.request_id,
                reason=status.reason,
            ),
        )
        log.info(
            "sign-out %s of %s: %s after %d attempt(s)", status.request_id, status.user, status.status, status.attempts
        )
        return status

    async def _save(self, status: SignoutStatus) -> None:
        await self.es.index(
            index=requests_index(self.prefix),
            id=status.request_id,
            document=status.model_dump(mode="json", exclude_none=True),
        )


async def run(settings: SecmonSettings) -> None:
    """Consume the actions topic until cancelled; commit each message once it is carried out."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from pipeline.kafka.config import aiokafka_kwargs
    from pipeline.sinks.elasticsearch import client

    kafka = aiokafka_kwargs(settings.kafka)
    async with client(settings.es) as es, session() as http:
        await ensure_requests_index(es, settings.es.index_prefix)
        await audit.ensure_audit_index(es, settings.es.index_prefix)
        producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
        consumer = AIOKafkaConsumer(
            actions_topic(settings.kafka.topic_prefix),
            **kafka,
            group_id=f"{settings.app_id}-actions",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await producer.start()
        await consumer.start()
        try:
            worker = ActionWorker(settings, es, http, producer)
            log.info("actions worker started on %s", actions_topic(settings.kafka.topic_prefix))
            async for message in consumer:
                try:
                    action = json.loads(message.value)
                except ValueError:
                    log.warning("skipping an action that is not JSON at offset %d", message.offset)
                    action = None
                if isinstance(action, dict):
                    await worker.handle(action)
                await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()


def _now() -> datetime:
    return datetime.now(timezone.utc)
