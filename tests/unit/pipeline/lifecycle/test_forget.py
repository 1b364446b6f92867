"""Forget requests: digests, parts, the workspace's context rows, and deletion per detect partition."""

from __future__ import annotations

from datetime import datetime, timezone

from aiokafka.partitioner import DefaultPartitioner

from detectors.engine import Engine
from detectors.state import DictStore
from pipeline.context.models import TicketRow, UserRow
from pipeline.context.store import ContextStore
from pipeline.kafka.topics import partition_of
from pipeline.lifecycle.forget import BUILTIN_KEY, digest_key, forget_digest, forget_requests, key_id, workspace_rows
from pipeline.lifecycle.purge import StatePurge
from pipeline.settings import LifecycleSettings, SecmonSettings
from tests.factories import entity_record

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def test_digests_are_stable_and_depend_on_the_key():
    d = forget_digest("bob@b.example", b"k1")
    assert d == forget_digest("bob@b.example", b"k1") != forget_digest("bob@a.example", b"k1")
    assert d != forget_digest("bob@b.example", b"k2") and len(d) == 32


def test_the_configured_key_is_used_and_named_by_a_public_id():
    settings = SecmonSettings(lifecycle=LifecycleSettings(forget_key="s3cret"))
    assert digest_key(settings) == b"s3cret" and digest_key(SecmonSettings()) == BUILTIN_KEY
    (request,) = forget_requests(StatePurge("ws-b", users=frozenset({"bob@b.example"})), "del-1", NOW, b"s3cret")
    assert request.users == [forget_digest("bob@b.example", b"s3cret")]
    assert request.key_id == key_id(b"s3cret") != key_id(BUILTIN_KEY)


def test_a_large_request_is_split_into_parts_that_together_hold_every_digest():
    state = StatePurge(
        "ws-b", alert_ids=frozenset(f"a{i}" for i in range(7)), users=frozenset(f"u{i}@b.example" for i in range(5))
    )
    parts = forget_requests(state, "del-1", NOW, max_ids=5)  # the built-in key
    assert [(p.part, p.parts) for p in parts] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(d for p in parts for d in p.alert_ids) == sorted(forget_digest(f"a{i}") for i in range(7))
    assert sorted(d for p in parts for d in p.users) == sorted(forget_digest(f"u{i}@b.example") for i in range(5))
    assert all(len(p.alert_ids) + len(p.users) <= 5 for p in parts)
    empty = forget_requests(StatePurge("ws-b"), "del-1", NOW)
    assert len(empty) == 1 and empty[0].workspace == "ws-b"  # still reaches entries keyed by the workspace


def test_the_workspace_rows_are_its_customer_users_and_tickets_not_employees():
    store = ContextStore()
    for row in (
        UserRow(id="u1", name="bob@b.example", team="ws-b"),
        UserRow(id="u2", name="amy@a.example", team="ws-a"),
        UserRow(id="e1", name="sam@corp.example", team="ws-b", employee=True),
    ):
        store.apply_message("users", row.key, row.model_dump_json())
    ticket = TicketRow(
        id="SUP-1", employee="sam@corp.example", workspace="ws-b", valid_from=NOW, valid_to=NOW.replace(hour=10)
    )
    store.apply_message("tickets", ticket.key, ticket.model_dump_json())
    assert workspace_rows(store, "ws-b") == {"users": ["u1"], "tickets": ["SUP-1"]}
    assert workspace_rows(store, "ws-c") == {}


def test_hashed_requests_delete_only_the_entries_on_the_partition_at_hand():
    store = DictStore()
    users = [f"user{i}@ws-b.example" for i in range(40)]
    for u in users:
        store.put(f"signin_bruteforce_user|{u}", entity_record([]))
    store.put("signin_bruteforce_user|keep@ws-a.example", entity_record([]))
    store.put("signin_bruteforce_ip|198.51.0.4", entity_record([], alert="alert-b"))
    request = forget_requests(StatePurge("ws-b", frozenset({"alert-b"}), frozenset(users)), "del-1", NOW)[0]
    deleted = []
    for partition in range(4):
        deleted += Engine(detectors=[], store=store).forget(
            "ws-b",
            alert_ids=request.alert_ids,
            entities={"user.name": request.users},
            digest=forget_digest,
            owns=lambda e, p=partition: partition_of(e, 4) == p,
        )
    assert len(deleted) == 41 and list(store.keys()) == ["signin_bruteforce_user|keep@ws-a.example"]


def test_partition_of_is_what_the_producer_picks():
    for key in ("bob@b.example", "198.51.0.4", "acct|user", ""):
        assert partition_of(key, 6) == DefaultPartitioner()(key.encode(), list(range(6)), list(range(6)))
