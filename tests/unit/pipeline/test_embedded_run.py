"""The embedded run as a user sees it: file order, what was lost, streaming, rollup, events out."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from pipeline import embedded
from pipeline.cli import main
from pipeline.settings import SecmonSettings

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "signin.jsonl"


def _halves(tmp_path: Path) -> tuple[Path, Path]:
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    old, new = tmp_path / "signin.1.jsonl", tmp_path / "signin.0.jsonl"  # logrotate: .1 is older
    old.write_bytes(b"".join(lines[:43]))
    new.write_bytes(b"".join(lines[43:]))
    return old, new


def test_files_are_read_oldest_first_whatever_order_they_are_given(tmp_path: Path):
    old, new = _halves(tmp_path)
    given_newest_first = embedded.run([str(new), str(old)], SecmonSettings())
    in_order = embedded.run([str(old), str(new)], SecmonSettings())
    whole = embedded.run([str(EXAMPLE)], SecmonSettings())
    assert sorted(given_newest_first.alerts) == sorted(in_order.alerts) == sorted(whole.alerts)
    assert not given_newest_first.late_events
    assert any(
        "oldest first" in note and note.index(old.name) < note.index(new.name) for note in given_newest_first.notes
    )
    assert not in_order.notes


def test_late_events_are_reported_per_detector_with_what_to_do():
    summary = embedded.Summary(records=10, events=10)
    summary.late_events.update({"signin_bruteforce_ip": 84, "source_silent": 1096})
    text = summary.render()
    assert "late events  source_silent: 1096 dropped" in text and "raise detection.lateness_seconds" in text
    summary.dead_letters.update({"invalid_json": 3})
    assert "dead letter  invalid_json: 3 (--dead-letter-out FILE keeps them)" in summary.render()


def _many_alerts(tmp_path: Path, users: int) -> Path:
    path = tmp_path / "many.jsonl"
    rows = [
        {
            "timestamp": f"2026-11-28T08:{i % 60:02d}:00Z",
            "user": f"u{i}@acme.example",
            "user_id": f"u-{i}",
            "workspace": "ws-acme",
            "outcome": "success",
            "source_ip": "198.51.100.24",
            "auth_method": "password",
            "mfa_used": False,
        }
        for i in range(users)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in sorted(rows, key=lambda r: r["timestamp"])))
    return path


def test_beyond_a_screenful_the_summary_is_a_rollup_per_rule(tmp_path: Path):
    summary = embedded.run([str(_many_alerts(tmp_path, 45))], SecmonSettings())
    assert len(summary.alerts) > embedded.SCREENFUL
    text = summary.render()
    assert "ALERT " not in text and "ALERTS" in text and "top: " in text and "--verbose" in text
    rollup = [line for line in text.splitlines() if "signin_without_mfa" in line]
    assert len(rollup) == 1 and rollup[0].split()[0] == str(
        sum(a.rule.id == "signin_without_mfa" for a in summary.alerts.values())
    )
    assert text.count("\n") < 20
    assert summary.render(verbose=True).count("ALERT ") == len(summary.alerts)


class _Interrupted(io.RawIOBase):
    """stdin that delivers some lines, then the user presses Ctrl-C."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._data:
            raise KeyboardInterrupt
        n = min(len(buffer), len(self._data), 4096)
        buffer[:n], self._data = self._data[:n], self._data[n:]
        return n


def test_stdin_streams_alerts_and_ctrl_c_keeps_what_was_raised(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(_Interrupted(EXAMPLE.read_bytes()))))
    assert main(["run", "--source", "app_signin", "-"]) == 130
    out, err = capsys.readouterr()
    streamed = [json.loads(line) for line in out.splitlines()]
    assert streamed and "(interrupted: Ctrl-C)" in err
    assert {a["rule"]["id"] for a in streamed} >= {"signin_without_mfa", "signin_bruteforce_ip"}


def test_events_out_writes_the_normalised_events(tmp_path: Path, capsys):
    events = tmp_path / "events.jsonl"
    assert main(["run", str(EXAMPLE), "--events-out", str(events), "--quiet", "--alerts-out", str(tmp_path / "a")]) == 0
    docs = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(docs) == 86 and docs[0]["event"]["dataset"] and "@timestamp" in docs[0]
    assert capsys.readouterr().err == ""
