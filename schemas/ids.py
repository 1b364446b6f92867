"""Deterministic ids: the same input yields the same id in every runtime, replay and retry.

Elasticsearch deduplicates on `_id` within one index, so an event's id depends only on where
its record was read (file identity + byte offset, or Kafka coordinates) and its position in
that record; never on wall-clock time or processing order.
"""

from __future__ import annotations

import hashlib

from schemas.event import Origin


def _digest(*parts: object) -> str:
    text = "\x1f".join(["" if p is None else str(p) for p in parts])  # a list joins faster than a generator
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def record_key(origin: Origin, raw: bytes) -> str:
    """Identity of one raw record: its file position, else its Kafka position, else its bytes."""
    if origin.file_id is not None and origin.offset is not None:
        if origin.index is None:
            return _digest("f", origin.source, origin.file_id, origin.offset)
        return _digest("f", origin.source, origin.file_id, origin.offset, origin.index)
    if origin.topic is not None and origin.kafka_offset is not None:
        return _digest("k", origin.source, origin.topic, origin.partition, origin.kafka_offset)
    return _digest("c", origin.source, hashlib.blake2b(raw, digest_size=16).hexdigest())


def event_id(record: str, index: int) -> str:
    """Id of the index-th event parsed from a record (one line can hold several events)."""
    return record if index == 0 else _digest(record, index)


def alert_id(rule_id: str, dedup_key: str, first_seen_iso: str) -> str:
    """Id of the alert a rule raises for one entity, starting at its first finding."""
    return _digest("a", rule_id, dedup_key, first_seen_iso)
