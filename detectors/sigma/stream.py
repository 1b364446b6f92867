"""Sigma rules as detectors of the engine: one Detector per rule (and per correlation), one shared router.

Each rule becomes a Detector named `sigma-<uuid>` with its title, level (severity), status
(maturity: shadow statuses run as experimental, never paged), tags and references, so its alerts
go through the engine's dedup, routing, suppression and history like any other. The `Router`
matches an event once against the index of its dataset; every rule's `key` then only looks up
whether it was among the matches (the engine asks each detector in turn).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.sigma.compiled import Compiled, compile_rules
from detectors.sigma.config import SigmaSettings
from detectors.sigma.correlate import CompiledCorrelation, observe
from detectors.sigma.index import RuleIndex
from detectors.sigma.loader import Loaded, Problem, load
from detectors.sigma.rules import CompiledRule, RuleInfo
from detectors.sigma.view import EventView, RecordView, View
from schemas.errors import ConfigError
from schemas.event import Event

log = logging.getLogger(__name__)
SEVERITY = {"informational": "low", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}


class NoParams(BaseModel):
    """Sigma rules take no parameters (their YAML is the configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Router:
    """Matches each event once: the uuids of the rules (of its dataset) it satisfies, and its views."""

    def __init__(self, rules: list[CompiledRule]) -> None:
        by_kind: dict[tuple[str, bool], list[CompiledRule]] = {}
        for rule in rules:
            for dataset in rule.datasets:
                by_kind.setdefault((dataset, rule.raw), []).append(rule)
        self._index = {kind: RuleIndex(rs) for kind, rs in by_kind.items()}
        self._last: tuple[Event, dict[bool, View], frozenset[str]] | None = None  # asked per rule, in a row

    def result(self, event: Event) -> tuple[dict[bool, View], frozenset[str]]:
        """({raw?: the event's view}, uuids of the rules it matches); computed once per event."""
        last = self._last
        if last is not None and last[0] is event:
            return last[1], last[2]
        views: dict[bool, View] = {}
        matched: set[str] = set()
        for raw in (False, True):
            index = self._index.get((event.event.dataset, raw))
            if index is not None:
                views[raw] = view = raw_view(event) if raw else EventView(event)
                matched.update(r.info.uuid for r in index.matching(view))
        self._last = (event, views, frozenset(matched))
        return views, self._last[2]

    def first_match(self, event: Event, rules: tuple[CompiledRule, ...]) -> tuple[View, int] | None:
        """(view, position) of the first of `rules` the event matches, or None. Off the routing
        path (a Faust detect worker gets each event anew) only these rules are tested."""
        last = self._last
        if last is not None and last[0] is event:
            found = [i for i, r in enumerate(rules) if r.info.uuid in last[2]]
            return (last[1][rules[found[0]].raw], found[0]) if found else None
        views: dict[bool, View] = {}
        for i, rule in enumerate(rules):
            if rule.raw not in views:
                views[rule.raw] = raw_view(event) if rule.raw else EventView(event)
            if event.event.dataset in rule.datasets and rule.matches(views[rule.raw]):
                return views[rule.raw], i
        return None


def raw_view(event: Event) -> RecordView:
    """The raw record the event was parsed from (`event.original`; no fields when it was not kept)."""
    try:
        record = json.loads(event.event.original or "{}")
    except (ValueError, RecursionError):
        record = {}
    return RecordView(record if isinstance(record, dict) else {})


def build(
    settings: SigmaSettings, keep_original: bool, loaded: Loaded | None = None
) -> list[tuple[Detector, BaseModel]]:
    """The detectors of the configured rules (none while rules_dirs is empty); problems are logged
    together. `loaded`: the rules already read from rules_dirs (`secmon check` reads them once)."""
    if not settings.rules_dirs:
        return []
    loaded = loaded if loaded is not None else load(settings.rules_dirs)
    compiled = compile_rules(loaded, "ecs", settings.placeholders, tuple(settings.skip_statuses))
    _report(compiled)
    disabled = {d.removeprefix("sigma-") for d in settings.disabled}
    rules = [r for r in compiled.rules if r.info.uuid not in disabled]
    correlations = [c for c in compiled.correlations if c.info.uuid not in disabled]
    raw = sorted({d for r in rules if r.raw for d in r.datasets})
    if raw and not keep_original:
        raise ConfigError(
            f"detection.sigma: rules for {', '.join(raw)} match the raw record's fields; set parse.keep_original: true"
        )
    router = Router(rules)
    params = NoParams()
    detectors = [(rule_detector(r, router, settings), params) for r in rules if r.output]
    detectors += [(correlation_detector(c, router, settings), params) for c in correlations]
    return sorted(detectors, key=lambda d: d[0].meta.id)


def _report(compiled: Compiled) -> None:
    """One summary line, the skipped rules grouped by reason (each listed at debug level and by
    `secmon sigma check`)."""
    log.info(
        "sigma: %d rules and %d correlations run, %d skipped",
        len(compiled.rules),
        len(compiled.correlations),
        len(compiled.skipped),
    )
    if compiled.skipped:
        log.warning(
            "sigma rules skipped (secmon sigma check lists them):\n  %s",
            "\n  ".join(f"{n:>4}  {reason}" for reason, n in skip_reasons(compiled.skipped).most_common()),
        )
        for problem in compiled.skipped:
            log.debug("sigma rule skipped: %s", problem)


def skip_reasons(problems: Iterable[Problem]) -> Counter[str]:
    """Skipped rules counted by reason (the part before any parenthesis or colon detail)."""
    return Counter(p.reason.split(" (")[0].split(": ")[0] for p in problems)


def meta_of(info: RuleInfo, datasets: tuple[str, ...], settings: SigmaSettings, state: StateSpec) -> DetectorMeta:
    """The engine's metadata of a Sigma rule (rule.id sigma-<uuid>, ruleset sigma)."""
    shadow = info.status in settings.shadow_statuses
    maturity = "experimental" if shadow else "deprecated" if info.status == "deprecated" else "stable"
    description = info.description.strip() or info.title
    return DetectorMeta(
        id=f"sigma-{info.uuid}",
        title=_title(info.title),
        version=1,
        description=f"{description} (Sigma rule, {info.file}:{info.line})",
        severity=SEVERITY.get(info.level or "", "medium"),
        maturity=maturity,
        datasets=datasets,
        state=state,
        tags=info.tags,
        dedup_period=timedelta(minutes=settings.dedup_minutes),
        ruleset="sigma",
        references=info.references,
    )


def _title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= 120 else title[:119] + "…"


def rule_detector(rule: CompiledRule, router: Router, settings: SigmaSettings) -> Detector:
    """One detection rule: an alert per matching event, merged per entity within the dedup period."""
    uuid = rule.info.uuid
    meta = meta_of(rule.info, rule.datasets, settings, StateSpec(kind="none", key=()))

    def key(event: Event) -> str | None:
        return entity_key(event) if uuid in router.result(event)[1] else None

    def step(state: State | None, event: Event, params: BaseModel) -> tuple[State | None, list[Finding]]:
        if router.first_match(event, (rule,)) is None:
            return None, []
        return None, [
            Finding(
                message=f"{meta.title}: {event.message or event.event.action or 'event'}",
                entity=entity_of(event),
                timestamp=event.timestamp,
                event_ids=(event.event.id,),
                datasets=(event.event.dataset,),
            )
        ]

    return Detector(meta=meta, params=NoParams, step=step, key=key)


def correlation_detector(corr: CompiledCorrelation, router: Router, settings: SigmaSettings) -> Detector:
    """One correlation: state per group-by value, a finding each time its condition holds."""
    state = StateSpec(kind="sliding_window", key=(), window=timedelta(seconds=corr.timespan))
    meta = meta_of(corr.info, corr.datasets, settings, state)

    def key(event: Event) -> str | None:
        router.result(event)  # the routing path: match the event against every rule once
        hit = router.first_match(event, corr.rules)
        return corr.group(hit[1], hit[0]) if hit else None

    def step(state: State | None, event: Event, params: BaseModel) -> tuple[State | None, list[Finding]]:
        hit = router.first_match(event, corr.rules)
        if hit is None:
            return state, []
        view, ref = hit
        state, fired = observe(corr, state, event.timestamp.timestamp(), ref, corr.value(ref, view), event.event.id)
        if fired is None:
            return state, []
        group = corr.group(ref, view).replace("\x1f", ", ")
        message = f"{meta.title}: {corr.kind} {fired.figure} for {group} within {corr.timespan:g}s"
        return state, [
            Finding(
                message=message,
                entity=entity_of(event),
                timestamp=event.timestamp,
                event_ids=fired.event_ids,
                datasets=(event.event.dataset,),
            )
        ]

    # a group idle for a timespan has nothing left in its window: the engine may drop it
    return Detector(meta=meta, params=NoParams, step=step, key=key, ttl=lambda _params: corr.timespan)


def entity_of(event: Event) -> Entity:
    """What the alert is about: the event's user, source, destination, host, workspace and account."""
    return Entity(
        user=event.user,
        source=event.source,
        destination=event.destination,
        host=event.host,
        organization=event.organization,
        cloud=event.cloud,
    )


def entity_key(event: Event) -> str:
    """The entity a rule's matches are merged on: user, source, host, workspace, account."""
    user = event.user.name or event.user.id if event.user else None
    source = (event.source.ip or event.source.address) if event.source else None
    host = event.host.name or event.host.id if event.host else None
    workspace = event.organization.id if event.organization else None
    account = event.cloud.account.id if event.cloud and event.cloud.account else None
    parts = [p or "-" for p in (user, source, host, workspace, account)]
    return "|".join(parts)
