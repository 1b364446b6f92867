"""Test helpers: compile one inline Sigma rule and match records, checked against the SQLite reference."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

from sigma.rule import SigmaRule

from detectors.sigma.compiled import compile_rules
from detectors.sigma.loader import Loaded, Located
from detectors.sigma.rules import CompiledRule
from detectors.sigma.view import RecordView
from tests.unit.detectors.sigma.reference import Reference, queries

REPO = Path(__file__).parents[4]
SHARED = REPO.parent / "shared" / "data"
FIXTURES = REPO / "tests" / "data" / "sigma"


def rule_dict(detection: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal valid rule around a detection section."""
    return {
        "title": "inline test rule",
        "id": str(uuid.uuid4()),
        "status": "test",
        "logsource": {"product": "test"},
        "detection": detection,
        **extra,
    }


def compiled(rule: dict[str, Any], placeholders: dict[str, list[str]] | None = None) -> CompiledRule:
    """The raw-mode compiled rule (fails the test when it is skipped)."""
    loaded = Loaded([Located(SigmaRule.from_dict(copy.deepcopy(rule)), "inline.yml", 1)])
    out = compile_rules(loaded, "raw", placeholders)
    assert not out.skipped, out.skipped
    return out.rules[0]


def hits(detection: dict[str, Any], *records: dict[str, Any], placeholders=None, text: str | None = None) -> list[bool]:
    """Which records the rule matches; the pySigma SQLite reference must say the same."""
    rule = rule_dict(detection)
    ours = compiled(rule, placeholders)
    views = [RecordView(r, text) for r in records]
    mine = [ours.matches(v) for v in views]
    reference = Reference([(v.fields, v.keywords()) for v in views])
    rows = {
        n for q in queries(SigmaRule.from_dict(copy.deepcopy(rule)), "raw", placeholders) for n in reference.matches(q)
    }
    assert mine == [n in rows for n in range(1, len(records) + 1)], "differs from the SQLite reference"
    return mine
