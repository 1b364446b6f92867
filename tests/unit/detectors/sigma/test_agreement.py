"""Our matcher against the pySigma SQLite reference: the same rules must match the same records, per rule.

Raw records (CloudTrail, hunt fixtures) are compared field for field; normalized events are compared
through the pipelines of their logsource (the reference table holds each event's JSON document).
The SigmaHQ rules and the Invictus CloudTrail sample are read from ../shared/data (never copied).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.sigma.compiled import compile_rules
from detectors.sigma.flatten import flatten
from detectors.sigma.index import RuleIndex
from detectors.sigma.loader import load
from detectors.sigma.stream import Router
from detectors.sigma.view import RecordView
from pipeline.settings import SecmonSettings
from pipeline.sigma_cli import _events
from tests.unit.detectors.sigma.helpers import FIXTURES, REPO, SHARED
from tests.unit.detectors.sigma.reference import Reference, load_fresh, queries

SIGMAHQ = SHARED / "sigmahq_rules" / "rules"
INVICTUS = SHARED / "invictus_cloudtrail" / "invictus_aws_dataset_subset.ndjson"
NORMALIZED = REPO / "tests" / "data" / "normalizers"


def ours_raw(rule_paths: list[Path], lines: list[str]) -> dict[str, list[int]]:
    """Rule uuid -> 1-based lines it matches, raw mode, through the index."""
    compiled = compile_rules(load(rule_paths), "raw")
    assert not compiled.skipped, compiled.skipped
    index = RuleIndex(compiled.rules)
    found: dict[str, list[int]] = {r.info.uuid: [] for r in compiled.rules}
    for number, line in enumerate(lines, 1):
        for rule in index.matching(RecordView.of_line(line)):
            found[rule.info.uuid].append(number)
    return found


def reference_raw(rule_paths: list[Path], lines: list[str]) -> dict[str, list[int]]:
    views = [RecordView.of_line(line) for line in lines]
    table = Reference([(v.fields, v.keywords()) for v in views])
    return {
        str(rule.id): sorted({n for q in queries(rule, "raw") for n in table.matches(q)})
        for rule in load_fresh(rule_paths)
    }


def differences(ours: dict[str, list[int]], reference: dict[str, list[int]]) -> list[str]:
    return [
        f"{uuid}: ours {ours.get(uuid)} reference {reference.get(uuid)}"
        for uuid in sorted(set(ours) | set(reference))
        if ours.get(uuid) != reference.get(uuid)
    ]


@pytest.fixture(scope="module")
def invictus() -> list[str]:
    assert INVICTUS.exists(), f"{INVICTUS} is missing: the shared data folder must sit beside the repository"
    return INVICTUS.read_text(encoding="utf-8").splitlines()


def test_all_57_sigmahq_cloudtrail_rules_agree_on_the_invictus_sample(invictus):
    rules = [SIGMAHQ / "cloud" / "aws" / "cloudtrail"]
    ours, reference = ours_raw(rules, invictus), reference_raw(rules, invictus)
    assert len(ours) == 57 and differences(ours, reference) == []
    assert sum(1 for lines in ours.values() if lines) >= 9  # not vacuous: 9 rules match 34 records


def test_the_stream_matches_cloudtrail_as_the_raw_hunt_does(invictus):
    rules = [SIGMAHQ / "cloud" / "aws" / "cloudtrail"]
    compiled = compile_rules(load(rules), "ecs")
    settings = SecmonSettings()
    router = Router(compiled.rules)
    stream: dict[str, list[int]] = {r.info.uuid: [] for r in compiled.rules}
    for number, event in _events(str(INVICTUS), "cloudtrail", settings):
        for uuid in router.result(event)[1]:
            stream[uuid].append(number)
    assert stream == ours_raw(rules, invictus)


def test_every_shared_rule_agrees_on_the_invictus_sample_as_a_raw_hunt(invictus):
    ours, reference = ours_raw([SIGMAHQ], invictus), reference_raw([SIGMAHQ], invictus)
    assert len(ours) == 488 and differences(ours, reference) == []


def test_own_fixture_rules_agree_on_raw_records():
    lines = (FIXTURES / "records.jsonl").read_text().splitlines()
    lines += [
        line
        for p in sorted((NORMALIZED / "cloudtrail").glob("*.jsonl"))
        for line in p.read_bytes().decode("utf-8", "replace").splitlines()
    ]
    rules = [FIXTURES / "hunt", FIXTURES / "rules" / "cloudtrail_correlations.yml", SIGMAHQ / "cloud"]
    ours = ours_raw(rules, lines)
    assert differences(ours, reference_raw(rules, lines)) == []
    assert sum(1 for found in ours.values() if found) >= 8


def reference_ecs(rule, events, datasets: tuple[str, ...]) -> list[int]:
    """Event numbers the reference selects among the events of the rule's datasets (its logsource)."""
    numbers = [n for n, e in enumerate(events, 1) if e.event.dataset in datasets]
    table = Reference(
        [
            (flatten(events[n - 1].to_doc()), events[n - 1].event.original or events[n - 1].message or "")
            for n in numbers
        ]
    )
    return sorted({numbers[row - 1] for q in queries(rule, "ecs") for row in table.matches(q)})


ECS_INPUTS = [
    (FIXTURES / "web_attacks.log", "web_access"),
    *((p, "web_access") for p in (NORMALIZED / "web_access").glob("*.log")),
    *((p, "sshd") for p in (NORMALIZED / "sshd").glob("*.log")),
    *((p, "zeek_ssl") for p in (NORMALIZED / "zeek_ssl").glob("ssl_*.log")),
    (NORMALIZED / "app_signin" / "signins.jsonl", "app_signin"),
]


def test_mapped_rules_agree_on_normalized_events():
    rule_paths = [SIGMAHQ / "web", SIGMAHQ / "linux" / "builtin", FIXTURES / "rules" / "ecs_rules.yml"]
    compiled = compile_rules(load(rule_paths), "ecs")
    router = Router(compiled.rules)
    events = [e for path, source in ECS_INPUTS for _, e in _events(str(path), source, SecmonSettings())]
    ours: dict[str, list[int]] = {r.info.uuid: [] for r in compiled.rules}
    for number, event in enumerate(events, 1):
        for uuid in router.result(event)[1]:
            ours[uuid].append(number)
    datasets = {r.info.uuid: r.datasets for r in compiled.rules}
    reference = {
        str(r.id): reference_ecs(r, events, datasets[str(r.id)])
        for r in load_fresh(rule_paths)
        if str(r.id) in datasets
    }
    assert differences(ours, reference) == []
    assert sum(1 for found in ours.values() if found) >= 12
