"""Shared pydantic base for every model that crosses a process boundary."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from schemas.bounds import CutAtBounds

SCHEMA_VERSION = 1


class Strict(CutAtBounds):
    """Base of all boundary models: unknown fields are rejected, aliases carry ECS names; overlong
    values fail, or are cut at their bound while a record is processed (schemas.bounds)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=False)

    def to_doc(self) -> dict[str, Any]:
        """The JSON-ready document with ECS names, without empty fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
