"""Data lifecycle on any Elasticsearch 9 cluster, core APIs only (no ILM, SLM, reindex or delete-by-query).

retention.py deletes whole expired daily indices; snapshots.py backs up, restore_test.py verifies a
backup by restoring it, prune.py drops old snapshots; holds.py keeps what an incident needs;
purge.py deletes one workspace everywhere (point-in-time + search_after + bulk delete); audit.py writes the evidence (audit records,
control events). Every operation takes `now`, so tests move the clock instead of sleeping.

This module holds what they share: the index names of one deployment and small helpers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.settings import SecmonSettings
from schemas.errors import SecmonError
from schemas.templates import TEMPLATES

DATA_KINDS = ("events", "alerts", "deadletter")  # customer-related data; lifecycle records are ours


class LifecycleError(SecmonError, ValueError):
    """A lifecycle command cannot go on; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class Names:
    """Every index name pattern of one deployment, derived from the prefix and the settings."""

    prefix: str
    audit: str = "audit"
    receipts: str = "receipts"
    holds: str = "holds"

    @classmethod
    def of(cls, settings: SecmonSettings) -> Names:
        """The names configured in settings."""
        lc = settings.lifecycle
        return cls(settings.es.index_prefix, lc.audit_index, lc.receipts_index, lc.holds_index)

    def data_patterns(self) -> list[str]:
        """Patterns of the indices holding events, alerts and dead letters."""
        return [f"{self.prefix}-{TEMPLATES[kind][1]}" for kind in DATA_KINDS]

    def record_alias(self, kind: str) -> str:
        """Alias (read name) of a lifecycle record index: kind is audit, receipts or holds."""
        return f"{self.prefix}-{getattr(self, kind)}"

    def record_index(self, kind: str) -> str:
        """The concrete index behind that alias (numbered so a mapping change can roll over)."""
        return f"{self.record_alias(kind)}-000001"

    def all_patterns(self) -> list[str]:
        """Everything a backup must contain: data and lifecycle records."""
        return self.data_patterns() + [f"{self.record_alias(k)}-*" for k in ("audit", "receipts", "holds")]

    @property
    def restore_prefix(self) -> str:
        """Prefix of the temporary indices `backup verify` restores into (matches no template)."""
        return f"{self.prefix}-restoretest-"


def utcnow() -> datetime:
    """The real clock; every operation takes `now` instead of calling this itself."""
    return datetime.now(timezone.utc)


def digest(*parts: object) -> str:
    """A short stable id from parts (deterministic document ids make re-runs idempotent)."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with a Z, as stored and printed."""
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
