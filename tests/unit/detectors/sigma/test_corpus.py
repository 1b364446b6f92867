"""The 488 SigmaHQ rules of ../shared/data: how many load, map and run, and why the others are skipped."""

from __future__ import annotations

from collections import Counter

import pytest

from detectors.sigma.compiled import compile_rules
from detectors.sigma.loader import load
from tests.unit.detectors.sigma.helpers import SHARED

SIGMAHQ = SHARED / "sigmahq_rules" / "rules"


@pytest.fixture(scope="module")
def loaded():
    assert SIGMAHQ.exists(), f"{SIGMAHQ} is missing: the shared data folder must sit beside the repository"
    return load([SIGMAHQ])


def test_every_shared_rule_loads_unmodified(loaded):
    assert len(loaded.rules) == 488 and loaded.problems == []


def test_the_rules_for_secmon_datasets_map_and_run(loaded):
    compiled = compile_rules(loaded, "ecs")
    per_dataset = Counter(d for r in compiled.rules for d in r.datasets)
    assert per_dataset == {"aws.cloudtrail": 57, "ssh.auth": 16, "web.access": 16}
    assert len(compiled.rules) + len(compiled.skipped) == 488


def test_every_skipped_rule_is_listed_with_its_reason(loaded):
    skipped = compile_rules(loaded, "ecs").skipped
    offenders = [str(p) for p in skipped if not p.reason.startswith("no secmon dataset for logsource ")]
    assert offenders == []
    assert len(skipped) == 399 and all(p.file.endswith(".yml") and p.line >= 1 and p.rule for p in skipped)


def test_every_shared_rule_runs_as_a_raw_hunt(loaded):
    compiled = compile_rules(loaded, "raw")
    assert len(compiled.rules) == 488 and compiled.skipped == []
    assert sum(1 for r in compiled.rules if r.bound is not None) >= 230  # half the rules are indexed by a literal
