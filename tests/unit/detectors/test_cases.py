"""Runs every detector's case file; one test per case, named after it."""

from __future__ import annotations

import pytest

from detectors.cases import load_cases, run_case
from detectors.registry import DETECTORS

CASES = [(det_id, case) for det_id in sorted(DETECTORS) for case in load_cases(det_id)]


@pytest.mark.parametrize(("det_id", "case"), CASES, ids=[f"{d}:{c.get('name')}" for d, c in CASES])
def test_case(det_id: str, case: dict):
    result = run_case(DETECTORS[det_id], case)
    assert result.ok, "\n".join(result.problems)


def test_a_wrong_expectation_fails():
    det_id, case = CASES[0]
    wrong = {**case, "expect": [{"rule.id": "no_such_rule"}]}
    assert not run_case(DETECTORS[det_id], wrong).ok
