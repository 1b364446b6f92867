"""Compiling a loaded rule set: detection rules first, then the correlations over them.

Its own module, above both `rules` and `correlate`, so neither needs the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detectors.sigma.correlate import CompiledCorrelation, compile_correlation
from detectors.sigma.loader import Loaded, Located, Problem
from detectors.sigma.rules import CompiledRule, Mode, compile_rule, rule_status
from detectors.sigma.strings import Unsupported


@dataclass
class Compiled:
    """Rules and correlations that run, and why the others do not."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CompiledCorrelation] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    loaded: int = 0


def compile_rules(
    loaded: Loaded,
    mode: Mode = "ecs",
    placeholders: dict[str, list[str]] | None = None,
    skip_statuses: tuple[str, ...] = (),
) -> Compiled:
    """Compile every loaded rule; correlations last, over the rules that compiled."""
    out = Compiled(skipped=list(loaded.problems), loaded=len(loaded.rules))
    placeholders = placeholders or {}
    runnable = []
    for located in loaded.rules:
        status = rule_status(located.rule)
        if status in skip_statuses:
            out.skipped.append(_skip(located, f"status {status} (detection.sigma.skip_statuses)"))
        else:
            runnable.append(located)
    for located in runnable:
        if isinstance(located.rule, SigmaRule):
            try:
                out.rules.append(compile_rule(located, mode, placeholders))
            except (Unsupported, SigmaError) as exc:
                out.skipped.append(_unsupported(located, exc))
    by_ref = {key: rule for rule in out.rules for key in (rule.info.uuid, rule.name) if key}
    for located in runnable:
        if isinstance(located.rule, SigmaCorrelationRule):
            try:
                out.correlations.append(compile_correlation(located, by_ref, mode, placeholders))
            except (Unsupported, SigmaError) as exc:
                out.skipped.append(_unsupported(located, exc))
    out.skipped.sort()
    return out


def _unsupported(located: Located, exc: Exception) -> Problem:
    return _skip(located, " ".join(str(exc.args[0] if exc.args else exc).split())[:500])


def _skip(located: Located, reason: str) -> Problem:
    return Problem(located.file, located.line, str(located.rule.id or located.rule.title), reason)
