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

from detectors.sigma.flatten import collect, json_text, leaf_text, text_of, value_at
from schemas.event import Event


class View(Protocol):
    """Field access for the matcher."""

    def get(self, name: str) -> Any:
        """The field's value (str, number, bool or JSON text), None when absent."""

    def keywords(self) -> str:
        """The text fieldless values are searched in."""

    def lower(self, name: str) -> str | None:
        """The field's text lowercased (case-insensitive tests), None when absent."""

    def keywords_lower(self) -> str:
        """The keyword text lowercased."""


class CachedView:
    """Lowercased texts computed once per view (most rules compare case-insensitively)."""

    __slots__ = ("_lower", "_keywords_lower")

    def __init__(self) -> None:
        self._lower: dict[str, str | None] = {}
        self._keywords_lower: str | None = None

    def get(self, name: str) -> Any:
        raise NotImplementedError

    def keywords(self) -> str:
        raise NotImplementedError

    def lower(self, name: str) -> str | None:
        try:
            return self._lower[name]
        except KeyError:
            value = self.get(name)
            text = self._lower[name] = None if value is None else text_of(value).lower()
            return text

    def keywords_lower(self) -> str:
        if self._keywords_lower is None:
            self._keywords_lower = self.keywords().lower()
        return self._keywords_lower


class RecordView(CachedView):
    """A JSON record (or a line of text, which has no fields) as the matcher sees it."""

    __slots__ = ("_found", "_values", "_text", "_record")

    def __init__(self, record: dict[str, Any], text: str | None = None) -> None:
        super().__init__()
        self._found = collect(record)  # objects and lists become JSON text only when a rule reads them
        self._values: dict[str, Any] = {}
        self._record = record
        self._text = text

    @property
    def fields(self) -> dict[str, Any]:
        """Every field of the record, flattened (see `flatten`)."""
        return {name: self.get(name) for name in self._found}

    @classmethod
    def of_line(cls, line: str) -> RecordView:
        """A line of a log file: its JSON object's fields, or no fields and the line as its text."""
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return cls({}, line)
        return cls(record, None) if isinstance(record, dict) else cls({}, line)

    def get(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            values = self._found.get(name)
            value = self._values[name] = None if values is None else value_at(values)
            return value

    def keywords(self) -> str:
        if self._text is None:
            self._text = leaf_text(self._record)
        return self._text


class EventView(CachedView):
    """A normalized event's ECS fields by dotted path (`source.ip`, `@timestamp`), read on demand."""

    __slots__ = ("event", "_cache")

    def __init__(self, event: Event) -> None:
        super().__init__()
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
