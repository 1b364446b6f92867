"""Conventions every detector must follow; the test lists every offender at once."""

from __future__ import annotations

from pathlib import Path

from detectors.cases import case_file, load_cases
from detectors.registry import ALL, DETECTORS

RULES = Path(__file__).parents[3] / "detectors" / "rules"


def offenders() -> list[str]:
    found = []
    files = {p.stem for p in RULES.glob("*.py") if not p.stem.startswith("_")}
    for stem in sorted(files - set(DETECTORS)):
        found.append(f"{stem}.py is not registered in detectors/registry.py")
    for det in ALL:
        meta = det.meta
        module_stem = Path(det.step.__code__.co_filename).stem
        if module_stem != meta.id:
            found.append(f"{meta.id}: defined in {module_stem}.py (file stem must equal the id)")
        if not case_file(meta.id).exists():
            found.append(f"{meta.id}: no case file {case_file(meta.id).name}")
            continue
        cases = load_cases(meta.id)
        if not any(c.get("expect") for c in cases):
            found.append(f"{meta.id}: no positive case (one that expects an alert)")
        if not any(c.get("expect") == [] for c in cases):
            found.append(f"{meta.id}: no negative case (expect: [])")
        if meta.state.kind != "none" and not all("@timestamp" in e for c in cases for e in c.get("events", [])):
            found.append(f"{meta.id}: stateful, so every case event needs an @timestamp")
        if not any(t.startswith("attack.") for t in meta.tags) and "policy" not in " ".join(meta.tags):
            found.append(f"{meta.id}: needs a MITRE ATT&CK (attack.*) or policy.* tag")
        if det.params.model_config.get("extra") != "forbid":
            found.append(f"{meta.id}: params model must forbid unknown keys")
    return found


def test_corpus_conventions():
    problems = offenders()
    assert not problems, "detector conventions broken:\n" + "\n".join(problems)
