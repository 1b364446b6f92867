"""`secmon controls`: the control table, the status of each control, and the command on real files."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from detectors.registry import DETECTORS
from pipeline.cli import main
from pipeline.controls import CONTROLS, Control, Evidence, evaluate, observe
from pipeline.settings import SecmonSettings
from schemas.alert import Alert, AlertState, Rule

T = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
# One timeline (control events as the job runner writes them) that yields every status:
#   backups: failing (the last run failed; the job is also late), restore_tests: ok,
#   deletion: overdue (requested two days ago, never completed), vuln_remediation: no data.
TIMELINE = [
    {
        "timestamp": "2026-11-28T09:00:00Z",
        "kind": "deletion",
        "status": "requested",
        "job_id": "del-1",
        "workspace": "ws-a",
    },
    {"timestamp": "2026-11-29T02:41:00Z", "kind": "backup", "status": "succeeded", "job_id": "bk-20261129-0200"},
    {
        "timestamp": "2026-11-30T02:07:00Z",
        "kind": "backup",
        "status": "failed",
        "job_id": "bk-20261130-0200",
        "reason": "disk full",
    },
    {"timestamp": "2026-11-30T06:52:40Z", "kind": "restore_test", "status": "succeeded", "job_id": "rt-2026-48"},
]


def alert(rule: str, status: str = "open") -> Alert:
    """An alert of `rule` with everything else defaulted."""
    return Alert(
        **{"@timestamp": T},
        message=f"{rule} says so",
        rule=Rule(id=rule, name=rule, version=1, maturity="stable"),
        alert=AlertState(id=f"id-{rule}", status=status, severity="high", dedup_key="k", first_seen=T, last_seen=T),
    )


def test_statuses_come_from_open_alerts_evidence_and_enabled_detectors():
    controls = [
        Control(
            id="backups",
            title="Backups",
            detectors=("backup_failed", "backup_missing"),
            late=("backup_missing",),
            evidence=(Evidence(dataset="control.events"),),
        )
    ] * 5
    cases = [  # (open alerts, evidence, enabled) -> status
        ([alert("backup_failed"), alert("backup_missing")], 3, {"backup_failed", "backup_missing"}, "failing"),
        ([alert("backup_missing")], 3, {"backup_failed", "backup_missing"}, "overdue"),
        ([alert("backup_failed", status="resolved")], 3, {"backup_failed", "backup_missing"}, "ok"),
        ([], 0, {"backup_failed", "backup_missing"}, "no data"),
        (
            [alert("backup_failed")],
            3,
            set(),
            "no data",
        ),  # nobody watching: an alert of a disabled detector says nothing
    ]
    for (alerts, evidence, enabled, want), control in zip(cases, controls, strict=True):
        (got,) = evaluate([control], alerts, Counter({"backups": evidence}), enabled)
        assert got.status == want, (alerts, evidence, enabled)
    (silent,) = evaluate(controls[:1], [], Counter(), set())
    assert silent.detail() == "not enabled: backup_failed, backup_missing"


def test_every_control_lists_the_detectors_tagged_with_it_and_only_those():
    problems = []
    for control in CONTROLS:
        tagged = {d for d, det in DETECTORS.items() if f"policy.{control.id}" in det.meta.tags}
        listed = set(control.detectors)
        problems += [f"{control.id}: {d} is tagged policy.{control.id} but not listed" for d in sorted(tagged - listed)]
        problems += [f"{control.id}: {d} is not a registered detector" for d in sorted(listed - set(DETECTORS))]
        problems += [
            f"{control.id}: {d} does not carry tag policy.{control.id}"
            for d in sorted(listed & set(DETECTORS) - tagged)
        ]
        problems += [f"{control.id}: late detector {d} is not listed" for d in sorted(set(control.late) - listed)]
    assert not problems, "\n".join(problems)
    assert len({c.id for c in CONTROLS}) == len(CONTROLS)


@pytest.fixture
def timeline(tmp_path: Path) -> Path:
    """TIMELINE as a control-events file."""
    path = tmp_path / "control.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in TIMELINE))
    return path


def test_a_replayed_timeline_yields_each_status(timeline):
    seen = observe([str(timeline)], SecmonSettings(), until=T)
    status = {s.control.id: s for s in evaluate(CONTROLS, seen.alerts.values(), seen.evidence, seen.enabled)}
    assert status["backups"].status == "failing"
    assert {a.rule.id for a in status["backups"].open_alerts} == {"backup_failed", "backup_missing"}
    assert status["restore_tests"].status == "ok"
    assert status["deletion"].status == "overdue"
    assert status["deletion"].open_alerts[0].alert.first_seen == datetime(2026, 11, 29, 9, tzinfo=timezone.utc)
    assert status["vuln_remediation"].status == "no data"
    assert status["log_sources"].status == "ok" and status["log_sources"].evidence == 4


def test_the_command_prints_json_and_check_fails_on_a_violation(timeline, capsys):
    assert main(["controls", str(timeline), "--until", "2026-11-30T12:00:00Z", "--json"]) == 0
    rows = {row["control"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {c.id for c in CONTROLS}
    assert rows["deletion"]["status"] == "overdue"
    assert rows["deletion"]["detail"].startswith("deletion_sla_breach: deletion of workspace ws-a (request del-1)")
    assert main(["controls", str(timeline), "--until", "2026-11-30T12:00:00Z", "--check"]) == 1
    table = capsys.readouterr().out
    assert "overdue   deletion" in table
    assert table.splitlines()[-1] == "2 ok, 1 failing, 1 overdue, 9 no data"


def test_until_needs_a_timezone(timeline, capsys):
    assert main(["controls", str(timeline), "--until", "2026-11-30T12:00:00"]) == 2
    assert "give a timezone" in capsys.readouterr().err
