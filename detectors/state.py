"""The one small interface detector state lives behind: a Faust table in production, a dict here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from detectors.records import EntityRecord


class StateStore(Protocol):
    """Key -> EntityRecord. Keys are `<detector id>|<entity key>`, so one entity is one entry. A store
    that persists keeps `record.to_doc()` and reads it back with `EntityRecord.from_doc`."""

    def get(self, key: str) -> EntityRecord | None:
        """The record under key, or None."""

    def put(self, key: str, value: EntityRecord) -> None:
        """Replace the record under key."""

    def delete(self, key: str) -> None:
        """Forget key (no error when absent)."""

    def keys(self) -> Iterator[str]:
        """Every key held (by this worker)."""


class DictStore:
    """In-process store for the embedded runner and tests."""

    def __init__(self) -> None:
        self._data: dict[str, EntityRecord] = {}

    def get(self, key: str) -> EntityRecord | None:
        return self._data.get(key)

    def put(self, key: str, value: EntityRecord) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def keys(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


def state_key(detector_id: str, entity_key: str) -> str:
    """Store key of one detector's state for one entity."""
    return f"{detector_id}|{entity_key}"
