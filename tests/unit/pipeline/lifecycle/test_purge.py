"""Purging a workspace from detector state (Engine.forget), the workspace query and receipt ids."""

from __future__ import annotations

from detectors.engine import Engine
from detectors.registry import configure
from detectors.state import DictStore
from pipeline.lifecycle.purge import workspace_query
from pipeline.lifecycle.receipts import receipt_id
from tests.factories import entity_record

# detectors keyed on the user, on the account and its workspace, on the source address
PER_USER, PER_ACCOUNT, PER_IP = "signin_bruteforce_user", "account_signout_all_devices", "signin_bruteforce_ip"


def engine(store: DictStore) -> Engine:
    enabled = [(det, params) for det, params in configure({}) if det.meta.id in (PER_USER, PER_ACCOUNT, PER_IP)]
    return Engine(detectors=enabled, store=store)


def test_entries_keyed_by_the_workspace_its_users_or_its_alerts_are_deleted():
    s = DictStore()
    s.put(f"{PER_ACCOUNT}|bob@b.example|ws-b", entity_record(None))
    s.put(f"{PER_ACCOUNT}|bob@b.example|ws-a", entity_record(None))
    s.put(f"{PER_USER}|bob@b.example", entity_record({"seen": ["DE"]}))
    s.put(f"{PER_USER}|carol@a.example", entity_record({"seen": ["FR"]}))
    s.put(f"{PER_IP}|203.0.113.9", entity_record([1, 2], alert="alert-of-ws-b"))
    s.put(f"{PER_IP}|198.51.100.1", entity_record([1], alert="alert-of-ws-a"))
    deleted = engine(s).forget("ws-b", alert_ids={"alert-of-ws-b"}, entities={"user.name": {"bob@b.example"}})
    assert sorted(deleted) == [
        f"{PER_ACCOUNT}|bob@b.example|ws-b",
        f"{PER_IP}|203.0.113.9",
        f"{PER_USER}|bob@b.example",
    ]
    assert sorted(s.keys()) == [
        f"{PER_ACCOUNT}|bob@b.example|ws-a",
        f"{PER_IP}|198.51.100.1",
        f"{PER_USER}|carol@a.example",
    ]


def test_a_value_containing_the_separator_still_matches_a_single_field_key():
    s = DictStore()
    s.put(f"{PER_USER}|odd|name", entity_record(None))
    assert engine(s).forget("ws-b", entities={"user.name": {"odd|name"}}) == [f"{PER_USER}|odd|name"]


def test_nothing_of_the_workspace_means_nothing_deleted_and_a_second_run_is_a_no_op():
    s = DictStore()
    s.put(f"{PER_ACCOUNT}|x|ws-a", entity_record(None))
    s.put("unknown_detector|ws-b", entity_record(None))  # a detector removed since: only its alert id could tell
    assert engine(s).forget("ws-b") == []
    assert len(s) == 2


def test_a_detector_disabled_here_is_still_forgotten_by_its_registered_key():
    s = DictStore()
    s.put("signin_new_country|bob@b.example", entity_record({}))
    assert engine(s).forget("ws-b", entities={"user.name": {"bob@b.example"}}) == ["signin_new_country|bob@b.example"]


def test_an_alert_of_the_workspace_under_a_variant_slot_is_forgotten():
    s = DictStore()
    s.put(f"{PER_IP}|203.0.113.9", entity_record([1], alert="alert-of-ws-b", variant="x"))
    assert engine(s).forget("ws-b", alert_ids={"alert-of-ws-b"}) == [f"{PER_IP}|203.0.113.9"]


def test_workspace_query_matches_the_workspace_but_not_secmons_control_events():
    q = workspace_query("ws-b")["bool"]
    assert q["filter"] == [{"term": {"organization.id": "ws-b"}}]
    assert q["must_not"] == [{"terms": {"event.dataset": ["control.events"]}}]


def test_receipt_ids_are_stable_per_request():
    assert receipt_id("ws-b", "REQ-1") == receipt_id("ws-b", "REQ-1")
    assert len({receipt_id("ws-b", "REQ-1"), receipt_id("ws-b", "REQ-2"), receipt_id("ws-a", "REQ-1")}) == 3
