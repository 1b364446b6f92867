"""Which holds cover which indices (and so which snapshots)."""

from __future__ import annotations

from datetime import datetime, timezone

from pipeline.lifecycle.holds import covering
from schemas.lifecycle import LegalHold

T = datetime(2026, 11, 30, tzinfo=timezone.utc)


def hold(hold_id: str, *patterns: str, status: str = "open") -> LegalHold:
    return LegalHold(
        timestamp=T,
        hold_id=hold_id,
        incident_id=hold_id,
        reason="investigation",
        status=status,
        indices=list(patterns),
        opened_by="legal",
        opened_at=T,
    )


def test_open_holds_cover_matching_indices_only():
    holds = [
        hold("INC-1", "secmon-events-app.signin-2026.11.*"),
        hold("INC-2", "secmon-*"),
        hold("INC-3", "secmon-*", status="closed"),
        hold("INC-4", "other-*"),
    ]
    assert covering(holds, ["secmon-events-app.signin-2026.11.02"]) == ["INC-1", "INC-2"]
    assert covering(holds, ["secmon-alerts-2026.12.01"]) == ["INC-2"]
    assert covering(holds, ["elsewhere-1"]) == []


def test_a_snapshot_is_covered_when_any_of_its_indices_is():
    holds = [hold("INC-1", "secmon-events-web.access-2026.10.31")]
    snapshot_indices = ["secmon-alerts-2026.10.31", "secmon-events-web.access-2026.10.31"]
    assert covering(holds, snapshot_indices) == ["INC-1"]
    assert covering([], snapshot_indices) == []


def test_matching_is_case_sensitive_like_index_names():
    assert covering([hold("INC-1", "secmon-events-*")], ["SECMON-events-x-2026.11.01"]) == []
