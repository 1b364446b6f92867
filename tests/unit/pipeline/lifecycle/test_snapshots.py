"""Snapshot ages from secmon's own clock, prune decisions, and the restore comparison."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipeline.lifecycle.prune import prune_plan
from pipeline.lifecycle.restore_test import IndexCheck, VerifyResult, checksum, compare_docs
from pipeline.lifecycle.snapshots import Snapshot, snapshot_name
from schemas.lifecycle import LegalHold

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)


def snap(name: str, days_before: float, state: str = "SUCCESS", indices=("secmon-events-a-2026.10.31",)) -> Snapshot:
    return Snapshot(name, state, T0 - timedelta(days=days_before), tuple(indices), f"backup-{name}")


def test_from_es_reads_taken_at_from_metadata_else_the_node_start_time():
    raw = {
        "snapshot": "s1",
        "state": "PARTIAL",
        "indices": ["b", "a"],
        "start_time_in_millis": 0,
        "metadata": {"managed_by": "secmon", "taken_at": "2026-11-01T02:00:00Z", "job_id": "backup-s1"},
        "failures": [{"index": "a", "shard_id": 0, "reason": "disk full"}],
    }
    s = Snapshot.from_es(raw)
    assert (s.taken_at, s.indices, s.job_id, s.reason) == (T0, ("a", "b"), "backup-s1", "a[0]: disk full")
    assert Snapshot.from_es({"snapshot": "s2", "start_time_in_millis": 1_000}).taken_at == datetime(
        1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc
    )


def test_snapshot_names_are_lowercase_and_sort_by_time():
    assert snapshot_name("secmon", T0) == "secmon-2026.11.01-020000"


def test_prune_deletes_only_snapshots_past_retention():
    plan = prune_plan([snap("old", 14), snap("young", 13.9), snap("running", 30, "IN_PROGRESS")], [], T0, 14)
    assert [(d.snapshot.name, d.action) for d in plan] == [("old", "delete"), ("young", "keep"), ("running", "keep")]


def test_an_open_hold_on_any_of_its_indices_keeps_a_snapshot():
    hold = LegalHold(
        timestamp=T0,
        hold_id="INC-1",
        incident_id="INC-1",
        reason="r",
        status="open",
        indices=["secmon-events-a-*"],
        opened_by="legal",
        opened_at=T0,
    )
    plan = prune_plan([snap("held", 40), snap("other", 40, indices=("secmon-alerts-2026.09.01",))], [hold], T0, 14)
    assert [(d.snapshot.name, d.action, d.holds) for d in plan] == [
        ("held", "hold", ("INC-1",)),
        ("other", "delete", ()),
    ]


def hit(index: str, doc_id: str, seq: int, source: dict) -> dict:
    return {"_index": index, "_id": doc_id, "_seq_no": seq, "_primary_term": 1, "_source": source}


def test_compare_docs_tells_identical_changed_deleted_and_different_apart():
    tmp = "p-restoretest-1-"
    restored = [
        hit(tmp + "i", "same", 1, {"a": 1, "b": 2}),
        hit(tmp + "i", "updated", 2, {"count": 1}),
        hit(tmp + "i", "gone", 3, {"a": 1}),
        hit(tmp + "i", "corrupt", 4, {"a": 1}),
    ]
    live = {
        ("i", "same"): {**hit("i", "same", 1, {"b": 2, "a": 1}), "found": True},
        ("i", "updated"): {**hit("i", "updated", 9, {"count": 2}), "found": True},
        ("i", "gone"): {"_index": "i", "_id": "gone", "found": False},
        ("i", "corrupt"): {**hit("i", "corrupt", 4, {"a": 2}), "found": True},
    }
    result = VerifyResult("s", "j")
    compare_docs(restored, live, tmp, result)
    assert (result.sampled, result.matched, result.changed, result.missing, result.mismatched) == (
        4,
        1,
        1,
        1,
        ["i/corrupt"],
    )
    assert not result.ok


def test_counts_must_agree_only_for_indices_untouched_since_the_backup():
    assert IndexCheck("i", 10, 10, unchanged=True).ok
    assert not IndexCheck("i", 10, 9, unchanged=True).ok
    assert IndexCheck("i", 10, 12, unchanged=False).ok  # written since
    assert IndexCheck("i", 10, None, unchanged=False).ok  # deleted since (retention)
    result = VerifyResult("s", "j", indices=[IndexCheck("a", 3, 3, True), IndexCheck("b", 4, 5, False)])
    assert result.ok and result.documents == 7


def test_checksum_ignores_key_order():
    assert checksum({"a": 1, "b": {"c": [1, 2]}}) == checksum({"b": {"c": [1, 2]}, "a": 1})
    assert checksum({"a": 1}) != checksum({"a": "1"})
