"""Purging a workspace from detector state, the workspace query and receipt ids."""

from __future__ import annotations

from types import SimpleNamespace

from detectors.state import DictStore
from pipeline.lifecycle.purge import purge_workspace_state, receipt_id, workspace_query


def detector(*key: str):
    return SimpleNamespace(meta=SimpleNamespace(state=SimpleNamespace(key=key)))


DETECTORS = {"per_user": detector("user.name"), "per_account": detector("user.target.name", "organization.id"),
             "per_ip": detector("source.ip")}


def test_entries_keyed_by_the_workspace_its_users_or_its_alerts_are_deleted():
    s = DictStore()
    s.put("per_account|bob@b.example|ws-b", {"s": None})
    s.put("per_account|bob@b.example|ws-a", {"s": None})
    s.put("per_user|bob@b.example", {"s": {"seen": ["DE"]}})
    s.put("per_user|carol@a.example", {"s": {"seen": ["FR"]}})
    s.put("per_ip|203.0.113.9", {"s": [1, 2], "a": {"id": "alert-of-ws-b"}})
    s.put("per_ip|198.51.100.1", {"s": [1], "a": {"id": "alert-of-ws-a"}})
    deleted = purge_workspace_state(s, "ws-b", alert_ids={"alert-of-ws-b"},
                                    entities={"user.name": {"bob@b.example"}}, detectors=DETECTORS)
    assert sorted(deleted) == ["per_account|bob@b.example|ws-b", "per_ip|203.0.113.9", "per_user|bob@b.example"]
    assert sorted(s.keys()) == ["per_account|bob@b.example|ws-a", "per_ip|198.51.100.1", "per_user|carol@a.example"]


def test_a_value_containing_the_separator_still_matches_a_single_field_key():
    s = DictStore()
    s.put("per_user|odd|name", {"s": None})
    assert purge_workspace_state(s, "ws-b", entities={"user.name": {"odd|name"}}, detectors=DETECTORS) == [
        "per_user|odd|name"]


def test_nothing_of_the_workspace_means_nothing_deleted_and_a_second_run_is_a_no_op():
    s = DictStore()
    s.put("per_account|x|ws-a", {"s": None})
    s.put("unknown_detector|ws-b", {"s": None})  # a detector removed since: only its alert id could tell
    assert purge_workspace_state(s, "ws-b", detectors=DETECTORS) == []
    assert len(s) == 2


def test_the_default_registry_is_used_when_no_detectors_are_given():
    s = DictStore()
    s.put("signin_bruteforce_user|bob@b.example", {"s": []})
    assert purge_workspace_state(s, "ws-b", entities={"user.name": {"bob@b.example"}}) == [
        "signin_bruteforce_user|bob@b.example"]


def test_workspace_query_matches_the_workspace_but_not_secmons_control_events():
    q = workspace_query("ws-b")["bool"]
    assert q["filter"] == [{"term": {"organization.id": "ws-b"}}]
    assert q["must_not"] == [{"terms": {"event.dataset": ["control.events"]}}]


def test_receipt_ids_are_stable_per_request():
    assert receipt_id("ws-b", "REQ-1") == receipt_id("ws-b", "REQ-1")
    assert len({receipt_id("ws-b", "REQ-1"), receipt_id("ws-b", "REQ-2"), receipt_id("ws-a", "REQ-1")}) == 3
