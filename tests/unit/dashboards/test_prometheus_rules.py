"""The Prometheus alerting rules are valid (`promtool check rules` when installed: .ci/run installs
it) and name only metrics and labels secmon exports, as pipeline/metrics.py defines them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline import metrics
from pipeline.dashboards import OUT, health

RULES = sorted((OUT / "prometheus").glob("*.yml"))
BUILTIN = {"up": {"job", "instance"}}


def _exported() -> dict[str, set[str]]:
    out = dict(BUILTIN)
    for m in vars(metrics).values():
        if hasattr(m, "_name") and hasattr(m, "_labelnames"):
            name = m._name + ("_total" if m._type == "counter" else "")
            suffixes = ("_bucket", "_sum", "_count") if m._type == "histogram" else ("",)
            for suffix in suffixes:
                out[name + suffix] = set(m._labelnames) | ({"le"} if suffix == "_bucket" else set())
    return out


def _problems(expr: str, exported: dict[str, set[str]]) -> list[str]:
    found = []
    names = re.findall(r"\bsecmon_[a-z0-9_]+", expr) + [n for n in BUILTIN if re.search(rf"\b{n}\{{", expr)]
    for name in names:
        if name not in exported:
            found.append(f"unknown metric {name}")
    metrics_here = {n for n in names if n in exported}
    labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", expr))
    for group in re.findall(r"by \(([^)]*)\)", expr):
        labels |= {label.strip() for label in group.split(",")}
    allowed = set().union(*(exported[n] for n in metrics_here)) if metrics_here else set()
    found += [f"label {label} is on none of {sorted(metrics_here)}" for label in labels - allowed]
    return found


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_rules_name_only_exported_metrics_and_labels(path: Path):
    exported = _exported()
    groups = yaml.safe_load(path.read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) >= 8
    wrong = [f"{r['alert']}: {p}" for r in rules for p in _problems(r["expr"], exported)]
    assert not wrong, wrong
    assert all(r["annotations"]["summary"] and r["labels"]["severity"] for r in rules)


def test_dashboard_promql_names_only_exported_metrics():
    exported = _exported()
    wrong = [f"{what}: {p}" for what, expr in health.PROMQL for p in _problems(expr, exported)]
    assert not wrong, wrong


def test_the_checker_catches_unknown_names():
    exported = _exported()
    assert _problems("rate(secmon_nonexistent_total[5m])", exported) == ["unknown metric secmon_nonexistent_total"]
    assert _problems('sum by (user) (secmon_alerts_total{rule="x"})', exported) == [
        "label user is on none of ['secmon_alerts_total']"
    ]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_accepts_the_rules():
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, RULES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
