"""`secmon sigma check|match` on our fixtures."""

from __future__ import annotations

import json

from pipeline.cli import main
from tests.unit.detectors.sigma.helpers import FIXTURES


def matches(tmp_path, *args) -> list[dict]:
    out = tmp_path / "matches.jsonl"
    assert main(["sigma", "match", *args, "--out", str(out)]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_match_ecs_names_rule_file_and_line(tmp_path):
    found = matches(
        tmp_path, "--rules", str(FIXTURES / "rules"), str(FIXTURES / "web_attacks.log"), "--source", "web_access"
    )
    assert [m["line"] for m in found] == [15]  # the fixture rules: only the web one reads web.access
    hit = found[0]
    assert hit["rule_id"] == "5e3f7a52-1d0c-4f7e-9a41-6b2d8c9e0f03" and hit["file"].endswith("web_attacks.log")
    assert hit["dataset"] == "web.access" and hit["level"] == "low"


def test_match_raw_hunts_any_json_by_its_own_fields(tmp_path):
    found = matches(tmp_path, "--fields", "raw", "--rules", str(FIXTURES / "hunt"), str(FIXTURES / "records.jsonl"))
    by_line = {(m["line"], m["rule_id"][-2:]) for m in found}
    assert (4, "02") in by_line and (18, "07") in by_line and (20, "06") in by_line  # 20: a line of plain text
    assert all(set(m) == {"rule_id", "title", "level", "file", "line"} for m in found)


def test_match_reports_correlations_on_event_time(tmp_path):
    lines = [
        json.dumps(
            {
                "eventTime": f"2026-11-30T10:0{i}:00Z",
                "eventSource": "signin.amazonaws.com",
                "eventName": "ConsoleLogin",
                "sourceIPAddress": "198.51.100.7",
                "userIdentity": {"type": "IAMUser", "userName": f"u{i}"},
                "responseElements": {"ConsoleLogin": "Failure"},
            }
        )
        for i in range(5)
    ]
    trail = tmp_path / "trail.jsonl"
    trail.write_text("\n".join(lines) + "\n")
    found = matches(tmp_path, "--rules", str(FIXTURES / "rules"), str(trail), "--source", "cloudtrail")
    brute = [m for m in found if m.get("correlation") == "event_count"]
    assert [(m["line"], m["figure"], m["group"]) for m in brute] == [(5, 5, ["198.51.100.7"])]
    assert [m["line"] for m in found if m.get("correlation") == "value_count"] == [3, 4, 5]


def test_check_lists_what_runs_and_what_is_skipped(tmp_path, capsys):
    assert main(["sigma", "check", str(FIXTURES / "rules"), str(FIXTURES / "hunt")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("18 rules loaded, 7 rules and 4 correlations run, 7 skipped")
    assert "run     3  aws.cloudtrail" in out and "skip    7  no secmon dataset for logsource product=any" in out
    assert "SKIPPED " in out and "modifiers.yml:2: 7a1d0b7e-2b6c-4d51-8e0a-1c9f3e5a7b01" in out
