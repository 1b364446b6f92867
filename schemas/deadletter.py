"""Dead-letter record: input secmon could not process, with the reason and where it came from."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.event import Origin
from schemas.types import Keyword, UtcDatetime

Stage = Literal["ship", "normalize", "enrich", "detect", "index", "deliver"]
# Bounded vocabulary: these are metric label values, never free text.
ErrorCode = Literal[
    "invalid_utf8",
    "invalid_json",
    "invalid_shape",
    "invalid_field",
    "unrecognized_line",
    "too_large",
    "too_deep",
    "unknown_source",
    "mapping_rejected",
    "truncated_input",
    "internal_error",
]
MAX_ORIGINAL_BYTES = 64 * 1024


class DeadLetter(Strict):
    """One record that could not be processed; the original bytes are kept (bounded)."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this record's schema.")
    timestamp: UtcDatetime = Field(alias="@timestamp", description="When it was dead-lettered.")
    stage: Stage = Field(description="Pipeline stage that gave up.")
    error_code: ErrorCode = Field(description="Bounded reason code (metric label).")
    reason: str = Field(max_length=2000, description="What was wrong, for a human.")
    origin: Origin = Field(description="Where the record was read.")
    original_b64: str = Field(description="Original bytes, base64, truncated to 64 KiB.")
    original_size: int = Field(description="Size of the original record in bytes.")

    @staticmethod
    def encode_original(raw: bytes) -> str:
        """Base64 of the first MAX_ORIGINAL_BYTES bytes of raw."""
        return base64.b64encode(raw[:MAX_ORIGINAL_BYTES]).decode("ascii")

    def original(self) -> bytes:
        """The (possibly truncated) original bytes."""
        return base64.b64decode(self.original_b64)


__all__ = ["DeadLetter", "ErrorCode", "Keyword", "Stage"]
