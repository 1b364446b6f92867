"""The embedded runner over the shipped example, through the real CLI entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

from pipeline import embedded
from pipeline.cli import main
from pipeline.settings import SecmonSettings

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "signin.jsonl"


def test_example_raises_the_expected_alerts():
    summary = embedded.run([str(EXAMPLE)], SecmonSettings())
    rules = sorted((a.rule.id, a.alert.dedup_key) for a in summary.alerts.values())
    assert rules == [
        ("signin_bruteforce_ip", "185.220.101.45"),
        ("signin_bruteforce_ip", "45.155.205.233"),
        ("signin_bruteforce_user", "bob@acme.example"),
        ("signin_password_spray", "45.155.205.233"),
        ("signin_success_after_failures", "bob@acme.example"),
        ("signin_without_mfa", "alice@acme.example"),
        ("signin_without_mfa", "bob@acme.example"),
        ("signin_without_mfa", "carol@globex.example"),
        ("signin_without_mfa", "dave@globex.example"),
    ]
    assert summary.records == summary.events == sum(1 for _ in EXAMPLE.open())


def test_cli_writes_alerts_and_dead_letters(tmp_path: Path, capsys):
    bad = tmp_path / "mixed.jsonl"
    bad.write_bytes(EXAMPLE.read_bytes() + b"{broken\n\xff\xfe\n" + b"{" + b"x" * 2_000_000 + b"\n")
    alerts_out, dead_out = tmp_path / "alerts.jsonl", tmp_path / "dead.jsonl"
    code = main(
        ["run", str(bad), "--source", "app_signin", "--alerts-out", str(alerts_out), "--dead-letter-out", str(dead_out)]
    )
    assert code == 0
    assert len(alerts_out.read_text().splitlines()) == 9
    dead = [json.loads(line) for line in dead_out.read_text().splitlines()]
    assert [d["error_code"] for d in dead] == ["invalid_json", "invalid_utf8", "too_large"]
    assert "3 dead-lettered, 9 alerts" in capsys.readouterr().err


def test_stdin_needs_a_source(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes())))
    assert main(["run", "-"]) == 2
    assert "pass --source" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes())))
    assert main(["run", "-", "--source", "app_signin", "--alerts-out", "/dev/null"]) == 0
