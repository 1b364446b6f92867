"""`secmon context`: the message a row becomes on its topic, table inference, and `check` on bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.context.cli import message_of, table_of
from pipeline.context.loader import load_file
from pipeline.context.store import ContextStore


def test_a_published_row_is_applied_unchanged_by_a_worker(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text(
        "- {id: emp-1, name: dana@ourco.example, employee: true, working_hours: '22:00-06:00', timezone: Asia/Tokyo}\n"
    )
    row = load_file(path, "users").rows["emp-1"]
    key, value = message_of(row)
    assert key == b"emp-1" and b"null" not in value  # absent values stay absent on the topic
    store = ContextStore()
    store.apply_message("users", key, value)
    assert store.user_by_id("emp-1") == row


def test_the_table_comes_from_the_option_or_the_file_stem():
    assert table_of(Path("x/tickets.csv"), None) == "tickets"
    assert table_of(Path("export-2026.csv"), "users") == "users"
    with pytest.raises(ValueError, match="pass --table"):
        table_of(Path("export-2026.csv"), None)


def test_check_lists_every_bad_row_and_exits_2(tmp_path, capsys):
    path = tmp_path / "tickets.csv"
    path.write_text(
        "id,employee,workspace,valid_from,valid_to\n"
        "T1,dana,ws-acme,2026-11-30T08:00:00Z,2026-11-30T07:00:00Z\n"
        "T2,dana,ws-acme,yesterday,2026-11-30T07:00:00Z\n"
    )
    assert main(["context", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: row: Value error, valid_to" in err and f"{path}:3: valid_from:" in err
    path.write_text(
        "id,employee,workspace,valid_from,valid_to\nT1,dana,ws-acme,2026-11-30T08:00:00Z,2026-12-01T00:00:00Z\n"
    )
    assert main(["context", "check", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "ok: 1 tickets\n"
