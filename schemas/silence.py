"""A silence as stored in `<prefix>-silences` (Alertmanager's fields): the data, without the
matcher grammar, which lives with the routing tree (`pipeline.delivery.silences.Silence` adds it).

Silences stored before `schema_version` existed read as version 1 (the default): same fields,
same meaning.
"""

from __future__ import annotations

import uuid

from pydantic import Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.types import Keyword, Text, UtcDatetime


class SilenceRecord(Strict):
    """One silence: every matcher must match for an alert to be muted while it is active."""

    id: Keyword = Field(default_factory=lambda: uuid.uuid4().hex, description="Silence id.")
    matchers: list[Keyword] = Field(min_length=1, description='Matchers, e.g. rule="signin_new_device".')
    starts_at: UtcDatetime = Field(description="Start of the silence.")
    ends_at: UtcDatetime = Field(description="End of the silence (expiring sets it to now).")
    created_by: Keyword = Field(min_length=1, description="Who created it.")
    comment: Text = Field(min_length=1, description="Why (a ticket, a maintenance window...).")
    created_at: UtcDatetime = Field(description="When it was created.")
    schema_version: int = Field(SCHEMA_VERSION, description="Version of this record's schema.")
