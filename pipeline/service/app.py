"""The access-log service as an ASGI app (FastAPI): access logs for users and team admins.

    GET /v1/me/access-log                    the caller's own sign-ins
    GET /v1/workspaces/{ws}/access-log       the team's (admins/owners of ws; staff with a justification)

Both: newest first, `limit` + `cursor` pagination, `since`/`until`, `outcome`, `format=csv` export.
Every authenticated request is written to the audit index; callers are rate limited per subject.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from elasticsearch import ApiError
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from pipeline.service import audit
from pipeline.service.auth import ID, Caller, Verifier
from pipeline.service.deps import CallerDep, Deps, DepsDep, client_ip, now_utc
from pipeline.service.limits import RateLimiter
from pipeline.service.query import (
    CSV_COLUMNS,
    CursorError,
    Outcome,
    Row,
    Scope,
    csv_cell,
    decode_cursor,
    encode_cursor,
    index_pattern,
    row,
    search_body,
)
from pipeline.service.signout import ensure_requests_index
from pipeline.settings import SecmonSettings

log = logging.getLogger(__name__)
PIT_KEEP_ALIVE = "1m"


class Page(BaseModel):
    """One page of an access log: rows newest first, and the cursor of the next page (null: the end)."""

    rows: list[Row]
    next_cursor: str | None


def build_app(settings: SecmonSettings, verifier: Verifier | None = None) -> FastAPI:
    """The ASGI app; the ES client and Kafka producer open with its lifespan."""
    cfg = settings.service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from aiokafka import AIOKafkaProducer

        from pipeline.kafka.config import aiokafka_kwargs
        from pipeline.sinks.elasticsearch import client

        async with client(settings.es) as es:
            await audit.ensure_audit_index(es, settings.es.index_prefix)
            await ensure_requests_index(es, settings.es.index_prefix)
            producer = AIOKafkaProducer(**aiokafka_kwargs(settings.kafka), acks="all", enable_idempotence=True)
            await producer.start()
            try:
                app.state.deps = Deps(
                    settings, es, verifier or Verifier(cfg), RateLimiter(cfg.rate_per_minute, cfg.rate_burst), producer
                )
                yield
            finally:
                await producer.stop()

    app = FastAPI(
        title="secmon access log",
        version="1",
        description="Sign-in history for users and workspace admins, and remote sign-out.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )  # those pages load scripts from a CDN
    _routes(app)
    from pipeline.service import signout

    signout.routes(app)
    from pipeline.service import web

    web.routes(app, cfg.frame_ancestors)
    return app


Since = Annotated[datetime | None, Query(description="From this instant (ISO 8601, inclusive).")]
Until = Annotated[datetime | None, Query(description="Before this instant (ISO 8601, exclusive).")]
OutcomeQ = Annotated[Outcome | None, Query(description="Only successes or only failures.")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")]
Format = Annotated[Literal["json", "csv"], Query(description="json (a page) or csv (the whole range, a download).")]
WsPath = Annotated[str, Path(pattern=ID, description="Workspace id.")]


Limit = Annotated[int, Query(ge=1, le=10000, description="Rows per page (at most service.page_max).")]


def _routes(app: FastAPI) -> None:

    @app.get(
        "/v1/me/access-log", response_model=Page, tags=["access log"], responses={200: {"content": {"text/csv": {}}}}
    )
    async def my_access_log(
        request: Request,
        who: CallerDep,
        d: DepsDep,
        since: Since = None,
        until: Until = None,
        outcome: OutcomeQ = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        format: Format = "json",
    ) -> Any:
        """The caller's own sign-ins, newest first."""
        scope = Scope(user_id=who.id, since=since, until=until, outcome=outcome)
        return await _serve(request, d, who, scope, "read_own", limit, cursor, format)

    @app.get(
        "/v1/workspaces/{ws}/access-log",
        response_model=Page,
        tags=["access log"],
        responses={200: {"content": {"text/csv": {}}}, 403: {"description": "not an admin of ws"}},
    )
    async def team_access_log(
        request: Request,
        who: CallerDep,
        d: DepsDep,
        ws: WsPath,
        since: Since = None,
        until: Until = None,
        outcome: OutcomeQ = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        format: Format = "json",
        user: Annotated[str | None, Query(pattern=ID, description="Only this user id.")] = None,
        justification: Annotated[
            str | None,
            Query(max_length=2000, description=("Staff only: why you read this workspace (logged as staff access).")),
        ] = None,
        ticket: Annotated[str | None, Query(pattern=ID, description="Staff only: ticket id.")] = None,
    ) -> Any:
        """A workspace's sign-ins, newest first: for its admins and owners (staff: with a justification)."""
        scope = Scope(user_id=user, workspace=ws, since=since, until=until, outcome=outcome)
        if not who.administers(ws):
            if not who.staff:
                await _audit(d, request, "read_workspace", 403, who, scope, reason="not an admin of the workspace")
                raise HTTPException(403, "only admins and owners of this workspace may read its access log")
            if not justification:
                await _audit(d, request, "read_workspace", 403, who, scope, reason="staff without justification")
                raise HTTPException(403, "staff access needs a justification (query parameter justification)")
        staff = None if who.administers(ws) else (justification, ticket)
        return await _serve(request, d, who, scope, "read_workspace", limit, cursor, format, staff)


async def _serve(
    request: Request,
    d: Deps,
    who: Caller,
    scope: Scope,
    action: str,
    limit: int,
    cursor: str | None,
    fmt: str,
    staff: tuple[str | None, str | None] | None = None,
) -> Any:
    if limit > d.settings.service.page_max:
        raise HTTPException(422, f"limit: at most {d.settings.service.page_max} rows per page")
    if fmt == "csv":
        return StreamingResponse(
            _csv(request, d, who, scope, action + "_export", staff),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
        )
    try:
        after = decode_cursor(cursor) if cursor else None
    except CursorError as exc:
        await _audit(d, request, action, 400, who, scope, reason="bad cursor")
        raise HTTPException(400, str(exc)) from None
    resp = await d.es.search(index=index_pattern(d.prefix), **search_body(scope, limit + 1, after))
    hits = resp["hits"]["hits"]
    rows = [row(h["_source"]) for h in hits[:limit]]
    nxt = encode_cursor(hits[limit - 1]["sort"]) if len(hits) > limit else None
    await _audit(d, request, action, 200, who, scope, rows=len(rows))
    if staff is not None:
        await _staff(d, request, who, scope, "read", len(rows), staff)
    return Page(rows=rows, next_cursor=nxt)


async def _csv(
    request: Request, d: Deps, who: Caller, scope: Scope, action: str, staff: tuple[str | None, str | None] | None
) -> AsyncIterator[str]:
    """The whole range as CSV, read page by page in one point in time (a consistent export)."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    yield _drain(buf)
    cap, count, after = d.settings.service.export_max_rows, 0, None
    pit = (
        await d.es.open_point_in_time(
            index=index_pattern(d.prefix), keep_alive=PIT_KEEP_ALIVE, allow_partial_search_results=False
        )
    )["id"]
    try:
        while count < cap:
            body = search_body(scope, min(1000, cap - count), after)
            resp = await d.es.search(pit={"id": pit, "keep_alive": PIT_KEEP_ALIVE}, **body)
            pit, hits = resp.get("pit_id", pit), resp["hits"]["hits"]
            for h in hits:
                r = row(h["_source"]).model_dump()
                out.writerow([csv_cell(r[c]) for c in CSV_COLUMNS])
            count += len(hits)
            yield _drain(buf)
            if len(hits) < body["size"]:
                break
            after = hits[-1]["sort"]  # with the PIT's implicit _shard_doc tie-breaker
    finally:
        try:
            await d.es.close_point_in_time(id=pit)
        except ApiError:
            log.warning("could not close a point in time (it expires after %s)", PIT_KEEP_ALIVE)
        await _audit(d, request, action, 200, who, scope, rows=count)
        if staff is not None:
            await _staff(d, request, who, scope, "export", count, staff)


def _drain(buf: io.StringIO) -> str:
    text = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return text


async def _audit(
    d: Deps,
    request: Request,
    action: str,
    status: int,
    who: Caller,
    scope: Scope,
    rows: int | None = None,
    reason: str | None = None,
) -> None:
    filters = scope.model_dump(mode="json", exclude_none=True)
    await audit.write_audit(
        d.es,
        d.prefix,
        audit.audit_doc(
            now_utc(),
            action,
            status,
            who,
            workspace=scope.workspace,
            target_user=scope.user_id,
            rows=rows,
            client_ip=client_ip(request),
            reason=reason,
            filters=filters,
        ),
    )


async def _staff(
    d: Deps, request: Request, who: Caller, scope: Scope, action: str, rows: int, staff: tuple[str | None, str | None]
) -> None:
    assert scope.workspace is not None
    record = audit.staff_access_record(
        now_utc(), who, scope.workspace, action, rows, staff[0], staff[1], client_ip(request)
    )
    value, headers = audit.staff_message(record)
    await d.publish(f"{d.settings.kafka.topic_prefix}-raw-staff_access", value, key=who.id.encode(), headers=headers)
