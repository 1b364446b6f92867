"""What a compiled rule reads: field values by name, and the text keyword (fieldless) rules search.

`RecordView` is a JSON record's own fields (dotted names, see `flatten`); `EventView` is a
normalized event's ECS fields, read lazily by path (only the fields some rule asks for are
built). Both answer None for an absent field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from detectors.sigma.flatten import flatten, json_text, leaf_text
from schemas.event import Event


class View(Protocol):
    """Field access for the matcher."""

    def get(self, name: str) -> Any:
        """The field's value (str, number, bool or JSON text), None when absent."""

    def keywords(self) -> str:
        """The text fieldless values are searched in."""


class RecordView:
    """A JSON record (or a line of text, which has no fields) as the matcher sees it."""

    __slots__ = ("fields", "_text", "_record")

    def __init__(self, record: dict[str, Any], text: str | None = None) -> None:
        self.fields = flatten(record)
        self._record = record
        self._text = text

    @classmethod
    def of_line(cls, line: str) -> RecordView:
        """A line of a log file: its JSON object's fields, or no fields and the line as its text."""
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return cls({}, line)
        return cls(record, None) if isinstance(record, dict) else cls({}, line)

    def get(self, name: str) -> Any:
        return self.fields.get(name)

    def keywords(self) -> str:
        if self._text is None:
            self._text = leaf_text(self._record)
        return self._text


class EventView:
    """A normalized event's ECS fields by dotted path (`source.ip`, `@timestamp`), read on demand."""

    __slots__ = ("event", "_cache")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._cache: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        try:
            return self._cache[name]
        except KeyError:
            value = self._cache[name] = ecs_value(self.event, name)
            return value

    def keywords(self) -> str:
        return self.event.event.original or self.event.message or ""


def ecs_value(event: Event, path: str) -> Any:
    """The value under an ECS path as the event's JSON document holds it (see `Event.to_doc`)."""
    if path == "@timestamp":
        return _jsonable(event.timestamp)
    value: Any = event
    for part in path.split("."):
        value = getattr(value, "as_" if part == "as" else part, None) if isinstance(value, BaseModel) else None
        if value is None:
            return None
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return json_text(value.model_dump(mode="json", by_alias=True, exclude_none=True))
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (list, tuple, dict)):
        return json_text(_plain(value))
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return _jsonable(value)
    return value
