"""Loaded Sigma rules -> compiled rules: mapped to secmon's datasets and fields, conditions as predicates.

`compile_rules(loaded, mode)` applies the source's pySigma pipeline to a copy of each rule (the
parsed rule stays as loaded), compiles its condition and files what cannot run as a `Problem`.
Mode "ecs" is the stream's (rules read normalized events of their logsource's datasets); mode
"raw" is the hunt's (`--fields raw`: every rule reads any JSON record's own fields, no mapping).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionOR
from sigma.rule import SigmaRule
from sigma.types import SigmaFieldReference

from detectors.sigma.compile import Predicate, compile_condition, required_fields, required_values
from detectors.sigma.loader import Located
from detectors.sigma.mapping import Source, pipeline_for, source_for, unknown_fields
from detectors.sigma.strings import Unsupported
from detectors.sigma.view import View

Mode = Literal["ecs", "raw"]


@dataclass(frozen=True)
class RuleInfo:
    """What an alert says about the rule: id, title, level, status, tags, references, where it lives."""

    uuid: str
    title: str
    description: str
    level: str | None
    status: str | None
    tags: tuple[str, ...]
    references: tuple[str, ...]
    file: str
    line: int


@dataclass(frozen=True)
class CompiledRule:
    """One detection rule, ready to test views."""

    info: RuleInfo
    name: str | None  # the rule's `name`, by which correlations may refer to it
    datasets: tuple[str, ...]  # () in raw mode: any record
    raw: bool  # reads the raw record's fields (CloudTrail), not ECS
    predicate: Predicate = field(repr=False)
    bound: tuple[str, frozenset[str]] | None
    needs: str | None  # a field the rule cannot match without (indexes rules that have no bound)
    output: bool  # raises alerts itself (False: only a correlation's building block)
    source: Source | None = field(default=None, repr=False)

    def matches(self, view: View) -> bool:
        """Whether the rule holds for the view."""
        return self.predicate(view)


def rule_status(rule: Any) -> str | None:
    """The rule's status in lower case (None when it has none)."""
    return rule.status.name.lower() if rule.status else None


def rule_info(located: Located) -> RuleInfo:
    """The rule's metadata; a rule without an id cannot run (rule.id is sigma-<its uuid>)."""
    rule = located.rule
    if rule.id is None:
        raise Unsupported("rule has no id (alerts are named sigma-<id>)")
    return RuleInfo(
        uuid=str(rule.id),
        title=rule.title or str(rule.id),
        description=rule.description or "",
        level=rule.level.name.lower() if rule.level else None,
        status=rule_status(rule),
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags or ()),
        references=tuple(str(r) for r in rule.references or ()),
        file=located.file,
        line=located.line,
    )


def compile_rule(located: Located, mode: Mode, placeholders: dict[str, list[str]]) -> CompiledRule:
    """Map one detection rule to secmon and compile it, or raise Unsupported / SigmaError saying why."""
    info = rule_info(located)
    rule: SigmaRule = located.rule  # type: ignore[assignment]
    source = source_for(_logsource(rule)) if mode == "ecs" else None
    mapped = copy.deepcopy(rule)
    pipeline_for(source, placeholders).apply(mapped)
    conditions = [c.parsed for c in mapped.detection.parsed_condition]
    tree = conditions[0] if len(conditions) == 1 else ConditionOR(conditions)
    if source is not None and not source.raw:
        missing = unknown_fields(condition_fields(tree))
        if missing:
            raise Unsupported(f"no secmon field for {', '.join(missing)} (logsource {source.describe()})")
    return CompiledRule(
        info=info,
        name=rule.name,
        datasets=source.datasets if source else (),
        raw=source is None or source.raw,
        predicate=compile_condition(tree),
        bound=required_values(tree),
        needs=min(required_fields(tree), default=None),
        output=rule._output,
        source=source,
    )


def _logsource(rule: SigmaRule) -> tuple[str | None, str | None, str | None]:
    ls = rule.logsource
    return ls.category, ls.product, ls.service


def condition_fields(node: Any) -> set[str]:
    """Every field name a parsed condition reads (fields of field references included)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        names = {node.field} if node.field else set()
        if isinstance(node.value, SigmaFieldReference):
            names.add(node.value.field)
        return names
    return set().union(*(condition_fields(a) for a in getattr(node, "args", ())))
