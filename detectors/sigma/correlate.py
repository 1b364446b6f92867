"""Sigma correlation rules on event time: event_count, value_count, temporal, temporal_ordered.

A correlation groups the events its rules matched by its `group-by` fields (through `aliases` when
the rules name them differently) and keeps, per group, the matches of the last `timespan` by event
time (`detectors.windows`, the state the engine stores per entity). The condition is checked as
each match arrives: `gte`/`gt`/`eq` can be decided then; `lt`/`lte`/`neq` only when a window
closes, which a stream never sees for sure, so rules using them are skipped with that reason.
A temporal correlation starts over once it fired; a count keeps counting (the alert is updated).
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass
from typing import Any

from sigma.correlations import (
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
)

from detectors import windows
from detectors.base import State
from detectors.sigma.flatten import text_of
from detectors.sigma.loader import Located
from detectors.sigma.mapping import pipeline_for, unknown_fields
from detectors.sigma.rules import CompiledRule, Mode, RuleInfo, rule_info
from detectors.sigma.strings import Unsupported
from detectors.sigma.view import View

KINDS = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}
OPS = {
    SigmaCorrelationConditionOperator.GTE: operator.ge,
    SigmaCorrelationConditionOperator.GT: operator.gt,
    SigmaCorrelationConditionOperator.EQ: operator.eq,
}
SEP = "\x1f"


@dataclass(frozen=True)
class CompiledCorrelation:
    """One correlation over compiled rules, with its group-by fields as each rule names them."""

    info: RuleInfo
    kind: str
    rules: tuple[CompiledRule, ...]
    group_by: tuple[tuple[str, ...], ...]  # per referenced rule
    value_field: tuple[str | None, ...]  # value_count: the counted field, per referenced rule
    timespan: float
    op: str
    threshold: float

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted({d for r in self.rules for d in r.datasets}))

    def group(self, ref: int, view: View) -> str:
        """The group an event matched by rule `ref` belongs to (absent fields group together)."""
        return SEP.join(_text(view.get(f)) for f in self.group_by[ref]) if self.group_by[ref] else "all"

    def value(self, ref: int, view: View) -> str:
        """value_count: the value the event adds ("" when it has none)."""
        name = self.value_field[ref]
        return _text(view.get(name)) if name else ""


@dataclass(frozen=True)
class Fired:
    """A correlation's condition held: the figure it compared and the events in the window."""

    figure: int
    event_ids: tuple[str, ...]


def _text(value: Any) -> str:
    return "" if value is None else text_of(value)


def compile_correlation(
    located: Located, by_ref: dict[str, CompiledRule], mode: Mode, placeholders: dict[str, list[str]]
) -> CompiledCorrelation:
    """Check the correlation is one the stream can decide, and map its fields per referenced rule."""
    info = rule_info(located)
    corr: SigmaCorrelationRule = located.rule  # type: ignore[assignment]
    if corr.type not in KINDS:
        raise Unsupported(f"correlation type {corr.type.name.lower()} is not supported")
    if isinstance(corr.condition, SigmaExtendedCorrelationCondition):
        raise Unsupported("extended (boolean) correlation conditions are not supported")
    if corr.condition.op not in OPS:
        raise Unsupported(f"condition {corr.condition.op.name.lower()} can only be decided when a window closes")
    if corr.condition.count > windows.MAX_ITEMS:
        raise Unsupported(f"thresholds above {windows.MAX_ITEMS} matches per window are not supported")
    rules = tuple(_referenced(ref, by_ref) for ref in corr.referenced_rules)
    mapped = [_mapped_fields(corr, i, rule, mode, placeholders) for i, rule in enumerate(rules)]
    return CompiledCorrelation(
        info=info,
        kind=KINDS[corr.type],
        rules=rules,
        group_by=tuple(g for g, _ in mapped),
        value_field=tuple(v for _, v in mapped),
        timespan=float(corr.timespan.seconds),
        op=corr.condition.op.name.lower(),
        threshold=corr.condition.count,
    )


def _referenced(ref: Any, by_ref: dict[str, CompiledRule]) -> CompiledRule:
    target = getattr(ref, "rule", None)
    if isinstance(target, SigmaCorrelationRule):
        raise Unsupported(f"correlation of correlation {ref.reference} is not supported")
    key = str(target.id) if target is not None and target.id is not None else ref.reference
    found = by_ref.get(key) or by_ref.get(ref.reference)
    if found is None:
        raise Unsupported(f"references rule {ref.reference}, which does not run")
    return found


def _mapped_fields(
    corr: SigmaCorrelationRule, index: int, rule: CompiledRule, mode: Mode, placeholders: dict[str, list[str]]
) -> tuple[tuple[str, ...], str | None]:
    """(group-by fields, counted field) as rule `index` names them, mapped like its own fields."""
    mapped = copy.deepcopy(corr)
    if mode == "ecs" and rule.source is not None:
        pipeline_for(rule.source, placeholders).apply(mapped)
    ref = mapped.referenced_rules[index]
    aliases = {a.alias: a.mapping for a in mapped.aliases}
    group = tuple(_alias_field(aliases[g], ref) if g in aliases else g for g in mapped.group_by or ())
    value = getattr(mapped.condition, "fieldref", None) if KINDS[corr.type] == "value_count" else None
    if isinstance(value, list):
        raise Unsupported("value_count over several fields is not supported")
    if rule.source is not None and not rule.source.raw:
        missing = unknown_fields(set(group) | ({value} if value else set()))
        if missing:
            raise Unsupported(f"no secmon field for {', '.join(missing)} (logsource {rule.source.describe()})")
    return group, value


def _alias_field(mapping: dict[Any, Any], ref: Any) -> str:
    for reference, name in mapping.items():
        if reference.reference == ref.reference:
            return str(name)
    raise Unsupported(f"alias gives no field for rule {ref.reference}")


def observe(
    corr: CompiledCorrelation, state: State | None, ts: float, ref: int, value: str, event_id: str
) -> tuple[State | None, Fired | None]:
    """Add one match (event time `ts`); the new state, and what fired when the condition holds now."""
    state = windows.add(state, ts, SEP.join((str(ref), value, event_id)), corr.timespan)
    figure = figure_of(corr, state)
    if not OPS[SigmaCorrelationConditionOperator[corr.op.upper()]](figure, corr.threshold):
        return state, None
    fired = Fired(figure, tuple(event_ids(state)))
    return (None if corr.kind.startswith("temporal") else state), fired


def figure_of(corr: CompiledCorrelation, state: State) -> int:
    """What the condition compares: events, distinct values, distinct rules, or rules seen in order."""
    entries = [item.split(SEP) for item in windows.items(state)]
    if corr.kind == "event_count":
        return len(entries)
    if corr.kind == "value_count":
        return len({value for _, value, _ in entries if value})
    if corr.kind == "temporal":
        return len({ref for ref, _, _ in entries})
    expected = 0
    for ref, _, _ in entries:  # windows keep entries in event-time order
        if expected < len(corr.rules) and ref == str(expected):
            expected += 1
    return expected


def event_ids(state: State | None) -> list[str]:
    """Ids of the events in the window, oldest first."""
    return [item.split(SEP)[2] for item in windows.items(state)]
