"""Shared pydantic base for every model that crosses a process boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1


class Strict(BaseModel):
    """Base of all boundary models: unknown fields are rejected, aliases carry ECS names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=False)

    def to_doc(self) -> dict[str, Any]:
        """The JSON-ready document with ECS names, without empty fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
