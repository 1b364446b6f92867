"""Loading context tables from CSV, JSON, JSON lines and YAML; every bad row reported with file:line."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.context.loader import ContextError, load_directory, load_file, table_files

USERS_CSV = """id,name,email,team,role,employee,team_admin,mfa_required,working_hours,working_days,timezone,usual_daily_records
emp-0142,dana.support@ourco.example,,support,support,true,false,true,09:00-18:00,Mon-Fri,Europe/Berlin,300
# customers' users below
u-1001,alice@acme.example,alice@acme.example,ws-acme,owner,no,yes,1,,,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_with_booleans_empty_cells_and_comments(tmp_path):
    rows = load_file(write(tmp_path, "users.csv", USERS_CSV), "users").rows
    dana, alice = rows["emp-0142"], rows["u-1001"]
    assert (dana.employee, dana.working_hours, dana.timezone, dana.usual_daily_records) == (
        True,
        "09:00-18:00",
        "Europe/Berlin",
        300,
    )
    assert dana.email is None
    assert (alice.employee, alice.team_admin, alice.mfa_required, alice.working_hours) == (False, True, True, None)


def test_json_list_json_lines_and_table_object_give_the_same_rows(tmp_path):
    row = '{"id": "SUP-1", "employee": "dana", "workspace": "ws-acme", "valid_from": "2026-11-30T08:00:00Z", "valid_to": "2026-11-30T18:00:00+01:00"}'
    as_list = load_file(write(tmp_path, "a.json", f"[\n  {row}\n]\n"), "tickets").rows
    as_lines = load_file(write(tmp_path, "b.jsonl", f"{row}\n\n{row.replace('SUP-1', 'SUP-2')}\n"), "tickets").rows
    as_object = load_file(write(tmp_path, "c.json", f'{{\n "tickets": [\n  {row}\n ]\n}}\n'), "tickets").rows
    assert as_list == as_object == {"SUP-1": as_lines["SUP-1"]}
    assert as_list["SUP-1"].valid_to == datetime(2026, 11, 30, 17, tzinfo=timezone.utc)
    assert list(as_lines) == ["SUP-1", "SUP-2"]


def test_yaml_list_and_mapping_forms(tmp_path):
    listed = (
        "- {host: Bastion-1.prod.example., owner: infra, criticality: critical, requires_2fa: yes}\n- host: build-7\n"
    )
    keyed = "assets:\n  - host: bastion-1.prod.example\n    owner: infra\n    criticality: critical\n    requires_2fa: true\n"
    a = load_file(write(tmp_path, "assets.yaml", listed), "assets").rows
    b = load_file(write(tmp_path, "assets.yml", keyed), "assets").rows
    assert a["bastion-1.prod.example"] == b["bastion-1.prod.example"]
    assert a["build-7"].criticality == "medium" and a["build-7"].requires_2fa is False


def test_ports_accept_a_cell_or_a_list(tmp_path):
    csv_rows = load_file(
        write(tmp_path, "ports.csv", "id,group_id,tag,protocol,ports\nweb,,tier=web,tcp,80;443 8000-8100\n"), "ports"
    ).rows
    yaml_rows = load_file(
        write(tmp_path, "ports.yaml", "- {id: web, tag: tier=web, ports: [80, 443, 8000-8100]}\n"), "ports"
    ).rows
    assert csv_rows == yaml_rows
    assert [(p.first, p.last) for p in csv_rows["web"].ports] == [(80, 80), (443, 443), (8000, 8100)]


def test_every_bad_csv_row_is_reported_with_its_line_at_once(tmp_path):
    text = (
        "id,name,employee,working_hours,timezone,shoe_size\n"
        "e1,ok@ourco.example,true,09:00-18:00,Europe/Berlin,42\n"
        "e2,bad-hours@ourco.example,true,9-18,Europe/Berlin,\n"
        'e3,"quoted\nname",maybe,,,\n'
        "e4,no-tz@ourco.example,true,09:00-18:00,,\n"
        "e5,bad-tz@ourco.example,true,09:00-18:00,Mars/Olympus,\n"
        "e1,dup@ourco.example,true,,,\n"
    )
    path = write(tmp_path, "users.csv", text)
    with pytest.raises(ContextError) as caught:
        load_file(path, "users")
    problems = caught.value.problems
    assert problems[0] == f"{path}:1: unknown column 'shoe_size' (known: " + problems[0].split("(known: ")[1]
    assert any(p.startswith(f"{path}:3: working_hours:") and "HH:MM-HH:MM" in p for p in problems)
    assert any(p.startswith(f"{path}:4: employee:") for p in problems)  # the row starts on line 4, spans 5
    assert any(p.startswith(f"{path}:6: row:") and "need a timezone" in p for p in problems)
    assert any(p.startswith(f"{path}:7: timezone:") and "Mars/Olympus" in p for p in problems)
    assert f"{path}:8: duplicate id 'e1' (first at line 2)" in problems
    assert len(problems) == 6
    assert str(caught.value).startswith(f"{path}: 6 problem(s); fix them and load again:")


def test_json_and_yaml_errors_name_the_line(tmp_path):
    bad_window = (
        '[\n {"id": "T1", "employee": "a", "workspace": "w", "valid_from": "2026-11-30T10:00:00Z",'
        ' "valid_to": "2026-11-30T09:00:00Z"},\n {"id": "T2", "employee": "a", "workspace": "w",'
        ' "valid_from": "2026-11-30T10:00:00", "valid_to": "2026-12-01T10:00:00Z"},\n "T3"\n]'
    )
    path = write(tmp_path, "tickets.json", bad_window)
    with pytest.raises(ContextError) as caught:
        load_file(path, "tickets")
    assert [p.split(": ")[0] for p in caught.value.problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "is not after valid_from" in caught.value.problems[0]
    assert "no timezone" in caught.value.problems[1]

    lines = write(tmp_path, "t.jsonl", '{"id": "T1"\n')
    with pytest.raises(ContextError, match=r"t.jsonl:1: invalid JSON"):
        load_file(lines, "tickets")
    yaml_path = write(tmp_path, "t.yaml", "- id: T1\n  employee: [unclosed\n")
    with pytest.raises(ContextError, match=r"t.yaml:\d: invalid YAML"):
        load_file(yaml_path, "tickets")


def test_directory_reports_every_file_problem_together(tmp_path):
    write(tmp_path, "users.csv", "id,name\n,nameless\n")
    write(tmp_path, "assets.yaml", "- {host: a, criticality: extreme}\n")
    write(tmp_path, "README.md", "not a table")
    with pytest.raises(ContextError) as caught:
        load_directory(tmp_path)
    assert {p.split(": ")[0] for p in caught.value.problems} == {f"{tmp_path}/users.csv:2", f"{tmp_path}/assets.yaml:1"}


def test_two_files_for_one_table_or_no_directory_are_errors(tmp_path):
    write(tmp_path, "users.csv", "id,name\n")
    write(tmp_path, "users.yaml", "[]\n")
    with pytest.raises(ContextError, match="2 files for table users"):
        table_files(tmp_path)
    with pytest.raises(ContextError, match="not a directory"):
        table_files(tmp_path / "nope")
