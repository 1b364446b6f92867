"""How records travel on Kafka: raw records with origin headers, events and alerts as JSON."""

from __future__ import annotations

import json
from typing import Any

import orjson

from pipeline.normalizers.base import RawRecord, loads_like_json
from schemas.event import Origin

ORIGIN_HEADER = "secmon-origin"
FORMAT_HEADER = "secmon-format"  # the file's latest header line, for header-defined formats


def origin_header(origin: Origin) -> tuple[str, bytes]:
    """The header a shipper attaches so the worker knows where a record was read."""
    return ORIGIN_HEADER, json.dumps(origin.to_doc(), separators=(",", ":")).encode()


def raw_record(source: str, value: bytes, headers: Any, topic: str, partition: int, offset: int) -> RawRecord:
    """A RawRecord from a Kafka message: file origin from headers, else the Kafka position."""
    origin = None
    header = None
    for name, data in _header_items(headers):
        if name == FORMAT_HEADER:
            header = data
        elif name == ORIGIN_HEADER:
            try:
                origin = Origin.model_validate_json(data)
            except ValueError:
                origin = None  # a foreign producer's header: fall back to the Kafka position
    if origin is None or origin.source != source:
        origin = Origin(source=source, topic=topic, partition=partition, kafka_offset=offset)
    return RawRecord(data=value or b"", origin=origin, header=header)


def _header_items(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k.decode() if isinstance(k, bytes) else k, v) for k, v in items]


def dumps(doc: dict[str, Any]) -> bytes:
    """Compact JSON bytes (orjson: UTF-8, not \\u-escaped; the json module for what orjson refuses,
    e.g. integers beyond 64 bits)."""
    try:
        return orjson.dumps(doc)
    except TypeError:
        return json.dumps(doc, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """A message's JSON, as json.loads reads it (at orjson's speed: see loads_like_json)."""
    return loads_like_json(data)
