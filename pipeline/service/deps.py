"""What the request handlers share: settings, ES, the token verifier, the limiter, Kafka; the caller."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

from elasticsearch import AsyncElasticsearch
from fastapi import Depends, HTTPException, Request

from pipeline.service import audit
from pipeline.service.auth import AuthError, Caller, Verifier, bearer
from pipeline.service.limits import RateLimiter
from pipeline.settings import SecmonSettings

log = logging.getLogger(__name__)


@dataclass
class Deps:
    """What the request handlers share: settings, the ES client, the token verifier, the limiter, Kafka."""

    settings: SecmonSettings
    es: AsyncElasticsearch
    verifier: Verifier
    limiter: RateLimiter
    producer: Any = None  # aiokafka producer, started with the app

    @property
    def prefix(self) -> str:
        return self.settings.es.index_prefix

    async def publish(
        self, topic: str, value: bytes, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        """Send one message and wait for the broker's ack."""
        await self.producer.send_and_wait(topic, value, key=key, headers=headers)


def deps(request: Request) -> Deps:
    """The shared dependencies of the running app."""
    return request.app.state.deps


async def caller(request: Request, d: Annotated[Deps, Depends(deps)]) -> Caller:
    """The verified, rate-limited caller of a request (401 / 429 otherwise)."""
    try:
        who = d.verifier.verify(bearer(request.headers.get("authorization")))
    except AuthError as exc:
        log.info("refused token from %s: %s", request.client.host if request.client else "?", exc)
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    wait = d.limiter.take(who.id)
    if wait:
        await audit.write_audit(
            d.es, d.prefix, audit.audit_doc(now_utc(), "rate_limited", 429, who, client_ip=client_ip(request))
        )
        raise HTTPException(429, f"rate limit: retry in {wait:.1f} s", headers={"Retry-After": str(int(wait) + 1)})
    return who


CallerDep = Annotated[Caller, Depends(caller)]
DepsDep = Annotated[Deps, Depends(deps)]


async def audit_action(
    d: Deps,
    request: Request,
    action: str,
    status: int,
    who: Caller,
    workspace: str | None,
    user: str | None,
    request_id: str | None,
    reason: str | None = None,
) -> None:
    """Audit a sign-out request or status read."""
    await audit.write_audit(
        d.es,
        d.prefix,
        audit.audit_doc(
            now_utc(),
            action,
            status,
            who,
            workspace=workspace,
            target_user=user,
            request_id=request_id,
            client_ip=client_ip(request),
            reason=reason,
        ),
    )


def client_ip(request: Request) -> str | None:
    """The peer address of a request (no proxy headers are trusted)."""
    return request.client.host if request.client else None


def now_utc() -> datetime:
    """The current time, UTC."""
    return datetime.now(timezone.utc)
