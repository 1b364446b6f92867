"""`POST /v1/workspaces/{ws}/users/{user}/signout-all` and its status: the request side of sign-out.

The request is recorded (`<prefix>-signout-requests`, id = request id: the outbox of the action)
and published to `<topic prefix>-actions`; the actions worker (pipeline/service/actions.py) calls
the SaaS application and records the outcome. The request id derives from the caller, the target
and the `Idempotency-Key` header, so a client retrying its POST gets the same request back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from elasticsearch import AsyncElasticsearch
from fastapi import FastAPI, Header, HTTPException, Path, Request
from pydantic import BaseModel

from pipeline.service.auth import ID, Caller
from pipeline.service.deps import CallerDep, DepsDep, audit_action

State = Literal["requested", "delivered", "failed"]
REQUESTS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "request_id": {"type": "keyword"},
        "workspace": {"type": "keyword"},
        "user": {"type": "keyword"},
        "actor": {"type": "keyword"},
        "requested_at": {"type": "date"},
        "status": {"type": "keyword"},
        "attempts": {"type": "integer"},
        "updated_at": {"type": "date"},
        "reason": {"type": "keyword"},
        "http_status": {"type": "short"},
    },
}


class SignoutStatus(BaseModel):
    """Where a sign-out request stands."""

    request_id: str
    workspace: str
    user: str
    actor: str
    requested_at: datetime
    status: State
    attempts: int = 0
    updated_at: datetime | None = None
    reason: str | None = None
    http_status: int | None = None


def requests_index(prefix: str) -> str:
    """The sign-out requests (and outcomes) index."""
    return f"{prefix}-signout-requests"


def actions_topic(topic_prefix: str) -> str:
    """The response-actions topic."""
    return f"{topic_prefix}-actions"


def request_id(actor: str, workspace: str, user: str, key: str | None) -> str:
    """Stable for (caller, target, Idempotency-Key); random without a key."""
    if key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(json.dumps([actor, workspace, user, key]).encode()).hexdigest()[:32]


def may_sign_out(who: Caller, workspace: str, user: str) -> bool:
    """Admins and owners of the workspace, or the user themself (as a member of it)."""
    return who.administers(workspace) or (who.id == user and workspace in who.roles)


def may_see(who: Caller, status: SignoutStatus) -> bool:
    """The requester, the signed-out user, and the workspace's admins see a request's status."""
    return who.id in (status.actor, status.user) or who.administers(status.workspace)


async def ensure_requests_index(es: AsyncElasticsearch, prefix: str) -> None:
    """Create the requests index with its strict mapping (already there: fine)."""
    await es.options(ignore_status=400).indices.create(index=requests_index(prefix), mappings=REQUESTS_MAPPINGS)


async def load(es: AsyncElasticsearch, prefix: str, rid: str) -> SignoutStatus | None:
    """A request by id (realtime get), or None."""
    resp = await es.options(ignore_status=404).get(index=requests_index(prefix), id=rid)
    return SignoutStatus.model_validate(resp["_source"]) if resp.get("found") else None


def routes(app: FastAPI) -> None:
    """Add the sign-out endpoints to the app."""

    @app.post(
        "/v1/workspaces/{ws}/users/{user}/signout-all",
        status_code=202,
        response_model=SignoutStatus,
        tags=["sign-out"],
        responses={403: {"description": "neither an admin of ws nor the user"}},
    )
    async def signout_all(
        request: Request,
        who: CallerDep,
        d: DepsDep,
        ws: Annotated[str, Path(pattern=ID)],
        user: Annotated[str, Path(pattern=ID)],
        idempotency_key: Annotated[str | None, Header(max_length=200, pattern=ID)] = None,
    ) -> SignoutStatus:
        """Sign the user out of every device: revoke all their sessions in the application."""
        if not may_sign_out(who, ws, user):
            await audit_action(d, request, "signout_request", 403, who, ws, user, None, "not allowed")
            raise HTTPException(403, "only admins and owners of this workspace, or the user, may sign them out")
        rid = request_id(who.id, ws, user, idempotency_key)
        now = datetime.now(timezone.utc)
        status = SignoutStatus(
            request_id=rid, workspace=ws, user=user, actor=who.id, requested_at=now, status="requested", updated_at=now
        )
        created = await d.es.options(ignore_status=409).create(
            index=requests_index(d.prefix), id=rid, document=status.model_dump(mode="json", exclude_none=True)
        )
        if created.meta.status == 409:
            status = await load(d.es, d.prefix, rid) or status
        if status.status == "requested":  # new, or a retry of a request whose publish may have failed
            action = {
                "kind": "signout_all",
                **status.model_dump(mode="json", include={"request_id", "workspace", "user", "actor", "requested_at"}),
            }
            await d.publish(actions_topic(d.settings.kafka.topic_prefix), json.dumps(action).encode(), key=rid.encode())
        await audit_action(d, request, "signout_request", 202, who, ws, user, rid)
        return status

    @app.get("/v1/signouts/{request_id}", response_model=SignoutStatus, tags=["sign-out"])
    async def signout_status(
        request: Request, who: CallerDep, d: DepsDep, request_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
    ) -> SignoutStatus:
        """Where a sign-out request stands: requested, delivered or failed."""
        status = await load(d.es, d.prefix, request_id)
        if status is None or not may_see(who, status):
            await audit_action(d, request, "signout_status", 404, who, None, None, request_id)
            raise HTTPException(404, "no such sign-out request")
        await audit_action(d, request, "signout_status", 200, who, status.workspace, status.user, request_id)
        return status
