"""Load problems are collected with file and line; a bad rule is skipped, the others load."""

from __future__ import annotations

import logging

import pytest

from detectors.sigma.compiled import compile_rules
from detectors.sigma.config import SigmaSettings
from detectors.sigma.loader import load
from detectors.sigma.stream import build
from schemas.errors import ConfigError
from tests.unit.detectors.sigma.helpers import FIXTURES

GOOD = """title: Good rule
id: 11111111-1111-4111-8111-111111111111
status: test
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: DeleteTrail
    condition: selection
"""


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text)


def test_problems_are_collected_with_file_and_line(tmp_path):
    write(tmp_path, "a_good.yml", GOOD)
    write(tmp_path, "not_yaml.yml", "title: x\ndetection: [unclosed\n")
    write(tmp_path, "bad_modifier.yml", GOOD.replace("1111-4111", "2222-4111").replace("eventName:", "eventName|nope:"))
    write(tmp_path, "z_duplicate.yaml", GOOD)
    write(
        tmp_path,
        "dangling.yml",
        "title: Count of nothing\nid: 33333333-3333-4333-8333-333333333333\n"
        "correlation:\n  type: event_count\n  rules: [no_such_rule]\n"
        "  timespan: 5m\n  condition: {gte: 2}\n",
    )
    loaded = load([tmp_path, tmp_path / "missing"])
    assert [str(r.rule.id) for r in loaded.rules] == ["11111111-1111-4111-8111-111111111111"]
    found = {(p.file.rsplit("/", 1)[-1], p.line): p.reason for p in loaded.problems}
    assert found.keys() == {
        ("not_yaml.yml", 3),
        ("bad_modifier.yml", 7),
        ("z_duplicate.yaml", 1),
        ("dangling.yml", 1),
        ("missing", 0),
    }
    assert "nope" in found[("bad_modifier.yml", 7)]
    assert "duplicate id" in found[("z_duplicate.yaml", 1)]


def test_unmapped_fields_and_unsupported_correlations_are_skipped_with_the_reason(tmp_path):
    write(
        tmp_path,
        "web.yml",
        GOOD.replace("1111-4111", "5555-4111")
        .replace("{product: aws, service: cloudtrail}", "{category: webserver}")
        .replace("eventName: DeleteTrail", "cs-cookie: x"),
    )
    write(
        tmp_path,
        "lt.yml",
        GOOD + "---\ntitle: Too few\nid: 44444444-4444-4444-8444-444444444444\n"
        "correlation:\n  type: event_count\n  rules: [11111111-1111-4111-8111-111111111111]\n"
        "  timespan: 5m\n  condition: {lt: 2}\n",
    )
    reasons = sorted(p.reason for p in compile_rules(load([tmp_path]), "ecs").skipped)
    assert reasons == [
        "condition lt can only be decided when a window closes",
        "no secmon field for cs-cookie (logsource category=webserver)",
    ]


def test_cloudtrail_rules_need_the_raw_record():
    with pytest.raises(ConfigError, match="parse.keep_original"):
        build(SigmaSettings(rules_dirs=[FIXTURES / "rules"]), keep_original=False)


def test_no_rules_dirs_means_no_sigma_detectors():
    assert build(SigmaSettings(), keep_original=False) == []


def test_disabled_rules_and_statuses(caplog):
    settings = SigmaSettings(
        rules_dirs=[FIXTURES / "rules"],
        skip_statuses=["experimental"],
        disabled=["sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d13"],
    )
    with caplog.at_level(logging.WARNING):
        ids = {det.meta.id for det, _ in build(settings, keep_original=True)}
    assert "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d13" not in ids  # disabled
    assert "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d12" not in ids  # experimental, skipped by status
    assert "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d11" in ids
    assert "status experimental" in caplog.text
