"""The context store: lookups, file reloads on change, compacted-topic updates and the version digest."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.context.loader import ContextError
from pipeline.context.store import ContextStore

T = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ticket(
    ticket_id: str,
    employee: str = "dana@ourco.example",
    workspace: str = "ws-acme",
    valid_from: str = "2026-11-30T08:00:00Z",
    valid_to: str = "2026-11-30T18:00:00Z",
) -> str:
    return json.dumps(
        {"id": ticket_id, "employee": employee, "workspace": workspace, "valid_from": valid_from, "valid_to": valid_to}
    )


@pytest.fixture
def ctx_dir(tmp_path: Path) -> Path:
    (tmp_path / "users.csv").write_text(
        "id,name,email,employee,working_hours,timezone\n"
        "emp-1,dana@ourco.example,Dana.Smith@ourco.example,true,09:00-18:00,Europe/Berlin\n"
        "u-1,alice@acme.example,,false,,\n"
    )
    (tmp_path / "assets.yaml").write_text(
        "- {host: bastion-1.prod.ourco.example, requires_2fa: true, criticality: critical}\n"
        "- {host: build-7, owner: ci}\n- {host: db.eu.ourco.example}\n- {host: db.us.ourco.example}\n"
    )
    (tmp_path / "tickets.jsonl").write_text(ticket("SUP-1") + "\n" + ticket("SUP-2", workspace="ws-globex") + "\n")
    (tmp_path / "ports.json").write_text(
        json.dumps(
            [
                {"id": "sg-web", "group_id": "sg-0a1", "ports": [443]},
                {"id": "tag-ssh", "tag": "bastion", "ports": "22", "protocol": "tcp"},
            ]
        )
    )
    (tmp_path / "workspaces.csv").write_text(
        "id,plan,app_mfa_required\nws-acme,enterprise,true\nws-globex,team,false\n"
    )
    return tmp_path


def test_lookups(ctx_dir):
    store = ContextStore(ctx_dir)
    assert store.user_by_name("DANA@ourco.example").id == "emp-1"
    assert store.user_by_name("dana.smith@ourco.example").id == "emp-1"  # by e-mail
    assert store.user_by_id("u-1").name == "alice@acme.example"
    assert store.user_by_name("mallory@evil.example") is None
    assert store.asset_by_host("BASTION-1.prod.ourco.example.").requires_2fa is True
    assert store.asset_by_host("bastion-1").criticality == "critical"  # short name -> the one FQDN row
    assert store.asset_by_host("build-7.ci.ourco.example").owner == "ci"  # FQDN -> short-name row
    assert store.asset_by_host("db") is None  # two FQDNs share the short name: neither is meant
    assert [t.id for t in store.tickets_for("dana@ourco.example", "ws-acme", T)] == ["SUP-1"]
    assert store.tickets_for(["nobody", "DANA@ourco.example"], "ws-acme", T)[0].id == "SUP-1"
    assert store.tickets_for("dana@ourco.example", "ws-acme", datetime(2026, 11, 30, 18, tzinfo=timezone.utc))
    assert not store.tickets_for("dana@ourco.example", "ws-acme", datetime(2026, 11, 30, 18, 0, 1, tzinfo=timezone.utc))
    assert [(p.first, p.last) for p in store.allowed_ports("sg-0a1", ["bastion", "other"])] == [(443, 443), (22, 22)]
    assert store.allowed_ports("sg-none") == []
    assert store.counts() == {"users": 2, "assets": 4, "tickets": 2, "ports": 2, "workspaces": 2}
    assert store.workspace("ws-acme").app_mfa_required is True
    assert store.workspace("ws-globex").app_mfa_required is False and store.workspace("ws-none") is None


def test_nothing_loaded_until_a_source_exists():
    store = ContextStore()
    assert not store.any_loaded() and store.version == "none"
    store.apply_message("tickets", b"SUP-9", None)  # even a tombstone says the topic feeds this table
    assert store.loaded("tickets") and not store.loaded("users")


def test_topic_rows_override_file_rows_and_tombstones_fall_back(ctx_dir):
    store = ContextStore(ctx_dir)
    moved = ticket("SUP-1", workspace="ws-initech")
    assert store.apply_message("tickets", b"SUP-1", moved.encode()) == "upsert"
    assert store.ticket("SUP-1").workspace == "ws-initech"
    assert not store.tickets_for("dana@ourco.example", "ws-acme", T)
    assert store.apply_message("tickets", b"SUP-1", None) == "delete"
    assert store.ticket("SUP-1").workspace == "ws-acme"  # the file's row applies again
    store.apply_message("tickets", "SUP-7", ticket("SUP-7"))
    store.apply_message("tickets", b"SUP-7", None)
    assert store.ticket("SUP-7") is None


def test_bad_topic_messages_say_what_is_wrong(ctx_dir):
    store = ContextStore(ctx_dir)
    with pytest.raises(ContextError, match="key 'SUP-8' is not the row's id 'SUP-1'"):
        store.apply_message("tickets", b"SUP-8", ticket("SUP-1").encode())
    with pytest.raises(ContextError, match="valid_to: Field required"):
        store.apply_message(
            "tickets", b"X", b'{"id": "X", "employee": "a", "workspace": "w", "valid_from": "2026-11-30T08:00:00Z"}'
        )
    with pytest.raises(ContextError, match="Invalid JSON"):
        store.apply_message("users", b"u", b"{not json")
    with pytest.raises(ContextError, match="unknown context table"):
        store.apply_message("groups", b"g", b"{}")


def test_version_is_a_digest_of_the_rows_whatever_their_order(ctx_dir):
    a, b = ContextStore(), ContextStore()
    for key in ("SUP-1", "SUP-2", "SUP-3"):
        a.apply_message("tickets", key, ticket(key))
    for key in ("SUP-3", "SUP-1", "SUP-2"):
        b.apply_message("tickets", key, ticket(key))
    assert a.version == b.version != "none"
    before = a.version
    a.apply_message("tickets", "SUP-2", ticket("SUP-2", valid_to="2026-12-01T00:00:00Z"))
    assert a.version != before
    a.apply_message("tickets", "SUP-2", ticket("SUP-2"))
    assert a.version == before


def test_files_reload_on_change_at_most_every_check_interval(ctx_dir):
    clock = Clock()
    store = ContextStore(ctx_dir, check_seconds=10, clock=clock, background=False)
    path = ctx_dir / "tickets.jsonl"
    path.write_text(ticket("SUP-1") + "\n" + ticket("SUP-3", employee="oliver@ourco.example") + "\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse filesystem clock
    assert not store.maybe_reload()  # checked at most every 10 s
    assert store.ticket("SUP-3") is None
    clock.now = 10
    assert store.maybe_reload()
    assert store.ticket("SUP-3") is not None and store.ticket("SUP-2") is None
    clock.now = 20
    assert not store.maybe_reload()  # nothing changed: no re-read


def test_a_background_reload_keeps_the_rows_in_use_until_the_new_file_is_parsed(ctx_dir, monkeypatch):
    import threading

    from pipeline.context import store as store_module

    parsed, release, load = threading.Event(), threading.Event(), store_module.load_file

    def held(path, table):  # parses, then waits: the event path must not wait with it
        loaded = load(path, table)
        parsed.set()
        assert release.wait(30)
        return loaded

    monkeypatch.setattr(store_module, "load_file", held)
    clock = Clock()
    store = ContextStore(ctx_dir, check_seconds=10, clock=clock)
    assert store.background
    path = ctx_dir / "tickets.jsonl"
    path.write_text(ticket("SUP-1") + "\n" + ticket("SUP-3", employee="oliver@ourco.example") + "\n")
    os.utime(path, ns=(1, 1))
    clock.now = 10
    assert not store.maybe_reload()  # started, not waited for
    assert parsed.wait(30)
    for _ in range(3):  # every call meanwhile returns at once, with the rows in use
        assert not store.maybe_reload() and store.ticket("SUP-3") is None and store.ticket("SUP-2") is not None
    release.set()
    deadline = time.monotonic() + 30
    while not store.maybe_reload():
        assert time.monotonic() < deadline, "the background reload never landed"
        time.sleep(0.01)
    assert store.ticket("SUP-3") is not None and store.ticket("SUP-2") is None


def test_a_bad_reload_keeps_the_last_good_rows_and_a_removed_file_drops_them(ctx_dir, caplog):
    store = ContextStore(ctx_dir, check_seconds=0)
    (ctx_dir / "tickets.jsonl").write_text('{"id": "SUP-1"}\n')
    assert not store.reload()
    assert store.ticket("SUP-1") is not None
    assert "tickets.jsonl:1: employee: Field required" in caplog.text
    (ctx_dir / "users.csv").unlink()
    (ctx_dir / "ports.json").unlink()
    (ctx_dir / "ports.yaml").write_text("- {id: sg-db, group_id: sg-db, ports: [5432]}\n")
    assert store.reload()
    assert not store.loaded("users") and store.user_by_name("dana@ourco.example") is None
    assert [p.first for p in store.allowed_ports("sg-db")] == [5432]


def test_a_bad_directory_stops_startup_with_every_problem(ctx_dir):
    (ctx_dir / "users.csv").write_text("id,name,timezone\ne1,a,Nowhere/City\ne2,b,Else/Where\n")
    with pytest.raises(ContextError) as caught:
        ContextStore(ctx_dir)
    assert [p.split(": ")[0].rsplit("/", 1)[1] for p in caught.value.problems] == ["users.csv:2", "users.csv:3"]
