"""Notification history in Elasticsearch (`<prefix>-notifications-YYYY.MM.DD`).

Every attempt is one document (receiver, outcome, HTTP status, latency, attempt number, error,
the alerts it carried), with `_id` = `<notification id>-<attempt>`, so a replay overwrites
rather than doubles it. Alerts that were not sent are recorded too: `silenced` (with the silence
id) and `suppressed` (an experimental detector routed to a paging receiver), once per alert and
receiver. "Did on-call get paged for alert X?" is a search on `alert_ids: X`.

The deliver agent does not write them itself: it produces each action as a `HistoryEntry` to the
history topic, a batch's entries bundled in a few messages (`messages`), and the index agent
writes them (`entry_actions`), retrying while Elasticsearch is away and committing only what it
wrote, so an outage neither stalls paging nor loses or dead-letters a record.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.kafka.codec import dumps
from schemas.delivery import HistoryBundle
from schemas.notification import NotificationRecord
from schemas.templates import mapping_of

MAX_LISTED_ALERTS = 100
MAX_BUNDLE_BYTES = 256 * 1024  # per history-topic message: well under Kafka's default 1 MiB limit


def index_of(prefix: str, ts: datetime) -> str:
    """Daily notifications index of a timestamp."""
    return f"{prefix}-notifications-{ts.astimezone(timezone.utc):%Y.%m.%d}"


def record_id(record: NotificationRecord) -> str:
    """Deterministic document id: `<notification>-<attempt>`, or a digest for silenced/suppressed."""
    if record.kind == "attempt":
        return f"{record.notification_id}-{record.attempt}"
    text = "\x1f".join([record.kind, record.receiver, record.group_key, record.silence_id or "", *record.alert_ids])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def action(prefix: str, record: NotificationRecord, day: datetime | None = None) -> dict[str, Any]:
    """Bulk action writing the record; `day` (default: its timestamp) picks the daily index, so all
    attempts of a notification land in the index of its creation day and a replay hits the same _id."""
    return {
        "_op_type": "index",
        "_index": index_of(prefix, day or record.timestamp),
        "_id": record_id(record),
        "_source": record.to_doc(),
    }


def message(bulk_action: dict[str, Any]) -> bytes:
    """The HistoryEntry JSON of a bulk action made by `action` (`messages` bundles them)."""
    return dumps({"index": bulk_action["_index"], "id": bulk_action["_id"], "record": bulk_action["_source"]})


def messages(bulk_actions: list[dict[str, Any]]) -> list[bytes]:
    """The history-topic messages (HistoryBundles of at most MAX_BUNDLE_BYTES, in order) of bulk actions."""
    out: list[bytes] = []
    part: list[bytes] = []
    size = 0
    for entry in (message(a) for a in bulk_actions):
        if part and size + len(entry) > MAX_BUNDLE_BYTES:
            out.append(b'{"entries":[' + b",".join(part) + b"]}")
            part, size = [], 0
        part.append(entry)
        size += len(entry) + 1
    if part:
        out.append(b'{"entries":[' + b",".join(part) + b"]}")
    return out


def entry_actions(bundles: list[HistoryBundle]) -> list[dict[str, Any]]:
    """Bulk actions writing history-topic entries: op_type index under their own index and id."""
    return [
        {"_op_type": "index", "_index": e.index, "_id": e.id, "_source": e.record.to_doc()}
        for b in bundles
        for e in b.entries
    ]


def template(prefix: str) -> dict[str, Any]:
    """The index template of the notifications indices (strict mapping generated from the model)."""
    return {
        "index_patterns": [f"{prefix}-notifications-*"],
        "priority": 200,
        "_meta": {"generated_from": "schemas.notification.NotificationRecord", "managed_by": "secmon"},
        "template": {
            "aliases": {f"{prefix}-notifications": {}},
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "refresh_interval": "1s"},
            "mappings": {"dynamic": "strict", "date_detection": False, "properties": mapping_of(NotificationRecord)},
        },
    }


async def install(es: AsyncElasticsearch, prefix: str) -> None:
    """Create or update the notifications index template, and add fields the schema gained since
    to the indices that exist (idempotent): today's index was made from the older template, and
    its strict mapping would refuse the new fields."""
    await es.indices.put_index_template(name=f"{prefix}-notifications", **template(prefix))
    await es.indices.put_mapping(
        index=f"{prefix}-notifications-*", properties=mapping_of(NotificationRecord), allow_no_indices=True
    )


def utc(ts: float) -> datetime:
    """A Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)
