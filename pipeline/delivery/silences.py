"""Silences: matchers + start/end + author + comment, kept in Elasticsearch (`<prefix>-silences`).

A silenced alert is not sent to the receivers of its groups while the silence is active; it is
recorded in the notification history (kind `silenced`, with the silence id) instead of dropped.
When the silence ends before the group expires, the alert is sent at the group's next flush.
Silences are created, listed and expired with `secmon silence ...`; workers re-read the active
ones every `delivery.silence_refresh_seconds`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import cached_property

from elasticsearch import AsyncElasticsearch
from pydantic import field_validator

from pipeline.delivery.routing import Labels, Matcher
from schemas.silence import SilenceRecord
from schemas.templates import mapping_of

MAX_SILENCES = 10_000


class Silence(SilenceRecord):
    """A stored silence with its matchers parsed and checked (the grammar of the routing tree)."""

    @field_validator("matchers")
    @classmethod
    def _valid(cls, matchers: list[str]) -> list[str]:
        parsed = [Matcher.parse(m) for m in matchers]
        if all(m.matches({}) for m in parsed):
            raise ValueError(
                "these matchers also match an alert without labels, so the silence would mute "
                "everything; add a positive matcher such as rule=<id> or workspace=<id>"
            )
        return matchers

    @cached_property
    def compiled(self) -> tuple[Matcher, ...]:
        """The parsed matchers."""
        return tuple(Matcher.parse(m) for m in self.matchers)

    def active(self, now: float) -> bool:
        """Whether it mutes alerts at `now`."""
        return self.starts_at.timestamp() <= now < self.ends_at.timestamp()

    def matches(self, labels: Labels) -> bool:
        """Whether every matcher matches the labels."""
        return all(m.matches(labels) for m in self.compiled)

    def state(self, now: float) -> str:
        """pending, active or expired."""
        return "pending" if now < self.starts_at.timestamp() else ("active" if self.active(now) else "expired")


def new_silence(matchers: list[str], starts_at: datetime, ends_at: datetime, author: str, comment: str) -> Silence:
    """Validate and build a silence (ValueError says what is wrong)."""
    if ends_at <= starts_at:
        raise ValueError(f"the silence ends ({ends_at.isoformat()}) before it starts ({starts_at.isoformat()})")
    return Silence(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=author,
        comment=comment,
        created_at=datetime.now(timezone.utc),
    )


def index_name(prefix: str) -> str:
    """The silences index."""
    return f"{prefix}-silences"


async def ensure_index(es: AsyncElasticsearch, prefix: str) -> None:
    """Create the silences index with a strict mapping generated from the model, or add the fields
    the schema gained since to the index an older version created (idempotent)."""
    name = index_name(prefix)
    if await es.indices.exists(index=name):
        await es.indices.put_mapping(index=name, properties=mapping_of(Silence))
        return
    await es.options(ignore_status=400).indices.create(  # 400: created concurrently
        index=name,
        settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
        mappings={"dynamic": "strict", "properties": mapping_of(Silence)},
    )


async def add(es: AsyncElasticsearch, prefix: str, silence: Silence) -> Silence:
    """Store a silence; visible to searches when this returns."""
    await ensure_index(es, prefix)
    await es.index(index=index_name(prefix), id=silence.id, document=silence.to_doc(), refresh="wait_for")
    return silence


async def load(es: AsyncElasticsearch, prefix: str, include_expired: bool = False) -> list[Silence]:
    """Silences, newest first; without include_expired only those not yet ended."""
    query = {"match_all": {}} if include_expired else {"range": {"ends_at": {"gt": "now"}}}
    result = await es.options(ignore_status=404).search(
        index=index_name(prefix), query=query, size=MAX_SILENCES, sort=[{"created_at": "desc"}]
    )
    hits = result.get("hits", {}).get("hits", []) if result else []
    return [Silence.model_validate(h["_source"]) for h in hits]


async def expire(es: AsyncElasticsearch, prefix: str, silence_id: str) -> Silence:
    """End a silence now; KeyError when there is no such id."""
    found = await es.options(ignore_status=404).get(index=index_name(prefix), id=silence_id)
    if not found or not found.get("found"):
        raise KeyError(f"no silence with id {silence_id!r}; see `secmon silence list --all`")
    silence = Silence.model_validate(found["_source"])
    now = datetime.now(timezone.utc)
    if silence.ends_at > now:
        silence = silence.model_copy(update={"ends_at": max(now, silence.starts_at)})
        await es.index(index=index_name(prefix), id=silence.id, document=silence.to_doc(), refresh="wait_for")
    return silence


class SilenceCache:
    """The silences a worker applies, refreshed from Elasticsearch in the background."""

    def __init__(self, silences: list[Silence] | None = None) -> None:
        self.silences = list(silences or [])
        self.loaded_at = 0.0

    async def refresh(self, es: AsyncElasticsearch, prefix: str) -> None:
        """Re-read the silences that have not ended (on error the previous set is kept by the caller)."""
        self.silences = await load(es, prefix)
        self.loaded_at = time.time()

    def silenced_by(self, labels: Labels, now: float) -> str | None:
        """Id of an active silence matching the labels, or None."""
        for silence in self.silences:
            if silence.active(now) and silence.matches(labels):
                return silence.id
        return None
