"""What the workers must forget of a purged workspace: detector state and context rows.

`secmon purge` reads the workspace's alert ids and user names before it deletes a document
(`purge.collect_state_keys`), then `forget_workspace`:

- publishes a ForgetRequest (digests keyed with `lifecycle.forget_key`, in parts) to `<prefix>-purge`. The worker's forget
  agent fans each part out to every partition of the detect topic, and the detect agent deletes
  the matching entries of its state table on that partition (`Engine.forget`), so each
  deletion is written to the changelog partition that holds the entry;
- tombstones the workspace's rows in the compacted context topics (its customer users, whose
  `team` is the workspace, and the tickets for it); every worker follows those topics;
- counts the workspace's rows still in context files (`enrich.context_dir`): files belong to the
  operator, so the receipt says how many rows are left to remove there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.context.loader import ContextError
from pipeline.context.models import TABLES
from pipeline.context.store import ContextStore
from pipeline.lifecycle import LifecycleError
from schemas.lifecycle import ForgetRequest

if TYPE_CHECKING:
    from pipeline.lifecycle.purge import StatePurge
    from pipeline.settings import SecmonSettings

log = logging.getLogger(__name__)
BUILTIN_KEY = b"secmon-forget-v1"  # only when lifecycle.forget_key is unset: then guessable (README)
MAX_IDS = 5000  # identifiers per message: ~180 kB, far below Kafka's 1 MB default
SEND_TIMEOUT_SECONDS = 30.0


def digest_key(settings: SecmonSettings) -> bytes:
    """The configured forget key (at most 64 bytes are used), or the built-in one."""
    key = settings.lifecycle.forget_key
    return key.get_secret_value().encode()[:64] if key is not None else BUILTIN_KEY


def key_id(key: bytes) -> str:
    """A short public id of a key: a worker with another key says so instead of forgetting nothing."""
    return hashlib.blake2b(key, digest_size=4, person=b"secmon-keyid").hexdigest()


def forget_digest(value: str, key: bytes = BUILTIN_KEY) -> str:
    """The keyed digest an identifier travels as in a ForgetRequest."""
    data = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16, key=key).hexdigest()


def forget_requests(
    state: StatePurge, receipt_id: str, now: datetime, key: bytes = BUILTIN_KEY, max_ids: int = MAX_IDS
) -> list[ForgetRequest]:
    """The request split in parts of at most `max_ids` identifiers (one part when there are none)."""
    items = [("alert_ids", forget_digest(a, key)) for a in sorted(state.alert_ids)] + [
        ("users", forget_digest(u, key)) for u in sorted(state.users)
    ]
    chunks = [items[i : i + max_ids] for i in range(0, len(items), max_ids)] or [[]]
    return [
        ForgetRequest(
            receipt_id=receipt_id,
            workspace=state.workspace,
            requested_at=now,
            part=n,
            parts=len(chunks),
            key_id=key_id(key),
            alert_ids=[d for f, d in chunk if f == "alert_ids"],
            users=[d for f, d in chunk if f == "users"],
        )
        for n, chunk in enumerate(chunks, start=1)
    ]


def workspace_rows(store: ContextStore, workspace: str, *, topic_only: bool = False) -> dict[str, list[str]]:
    """Ids of the workspace's context rows per table: its customer users and its tickets.

    Employees stay (their `team` is ours, not a customer's); assets and port rules are ours too.
    """

    def rows(table: str) -> Iterable:
        t = store.tables[table]
        return (t.topic_rows if topic_only else t.rows).values()

    found = {
        "users": sorted(r.key for r in rows("users") if r.team == workspace and not r.employee),
        "tickets": sorted(r.key for r in rows("tickets") if r.workspace == workspace),
    }
    return {table: ids for table, ids in found.items() if ids}


async def read_context_topics(settings: SecmonSettings) -> ContextStore:
    """The rows the compacted context topics hold now (read whole, like a worker does at start)."""
    from pipeline.context.follower import ContextFollower
    from pipeline.kafka.topics import TopicNames

    names = TopicNames(settings.kafka.topic_prefix)
    store = ContextStore()
    bad: list[str] = []
    follower = ContextFollower(
        store, {names.context(t): t for t in TABLES}, settings.kafka, on_bad=lambda record, exc: bad.append(str(exc))
    )
    try:
        complete = await follower.start()
    finally:
        await follower.stop()
    if not complete:
        raise LifecycleError(
            "the context topics could not be read to their end, so the workspace's context rows "
            "cannot all be found; check Kafka and run the purge again"
        )
    if bad:
        log.warning("%d invalid context messages skipped while looking for the workspace's rows", len(bad))
    return store


def rows_in_files(settings: SecmonSettings, workspace: str) -> int:
    """How many of the workspace's rows the context files hold (0 without enrich.context_dir)."""
    directory = settings.enrich.context_dir
    if directory is None or not directory.is_dir():
        return 0
    try:
        found = workspace_rows(ContextStore(directory), workspace)
    except ContextError as exc:
        log.warning("context files in %s not checked for workspace rows: %s", directory, exc)
        return 0
    for table, ids in found.items():  # ids name people: counted, not logged
        log.warning(
            "context file %s in %s still holds %d rows of workspace %s: remove them there (`secmon "
            "context check` lists the rows)",
            table,
            directory,
            len(ids),
            workspace,
        )
    return sum(len(ids) for ids in found.values())


async def forget_workspace(
    settings: SecmonSettings, state: StatePurge, receipt_id: str, now: datetime
) -> dict[str, int]:
    """Ask the workers to forget the workspace; the receipt fields saying what was asked."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from pipeline.kafka.config import aiokafka_kwargs
    from pipeline.kafka.topics import TopicNames, ensure_topics

    names = TopicNames(settings.kafka.topic_prefix)
    key = digest_key(settings)
    if settings.lifecycle.forget_key is None:
        log.warning(
            "lifecycle.forget_key is not set: the forget request's digests use the built-in key and can "
            "be reversed by guessing names; set the same secret on the purge CLI and the workers"
        )
    requests = forget_requests(state, receipt_id, now, key)
    try:
        await asyncio.to_thread(ensure_topics, settings)
        rows = workspace_rows(await read_context_topics(settings), state.workspace, topic_only=True)
        producer = AIOKafkaProducer(
            acks="all", client_id="secmon-purge", request_timeout_ms=30_000, **aiokafka_kwargs(settings.kafka)
        )
        await producer.start()
        try:
            sends = [
                await producer.send(
                    names.purge, key=f"{receipt_id}/{r.part}".encode(), value=r.model_dump_json().encode()
                )
                for r in requests
            ]
            sends += [
                await producer.send(names.context(table), key=row_id.encode(), value=None)
                for table, ids in rows.items()
                for row_id in ids
            ]
            await asyncio.wait_for(asyncio.gather(*sends), SEND_TIMEOUT_SECONDS)
        finally:
            await producer.stop()
    except (TimeoutError, KafkaError, OSError) as exc:
        raise LifecycleError(
            f"cannot ask the workers to forget workspace {state.workspace} on Kafka "
            f"{settings.kafka.bootstrap} ({type(exc).__name__}: {exc}); no document was deleted "
            "(some context tombstones may have been sent). Fix kafka.* and run the purge again, or "
            "set lifecycle.emit_to_kafka=false when no worker runs"
        ) from exc
    context_rows = sum(len(ids) for ids in rows.values())
    log.info(
        "asked the workers to forget workspace %s: %d request parts, %d alert ids, %d users, %d context rows",
        state.workspace,
        len(requests),
        len(state.alert_ids),
        len(state.users),
        context_rows,
    )
    return {
        "forget_parts": len(requests),
        "state_users": len(state.users),
        "context_rows": context_rows,
        "context_file_rows": rows_in_files(settings, state.workspace),
    }
