"""The routing tree as data (Alertmanager semantics): alert labels -> receivers, grouping, timing.

A node matches when all its matchers match. The tree is walked depth first: the first matching
child wins unless it sets `continue: true`, and a node none of whose children match is itself the
result. `receiver`, `group_by`, `group_wait`, `group_interval` and `repeat_interval` are inherited
from the parent when a node leaves them out. Two rules are not configurable: experimental
detectors never reach a paging receiver, and a PagerDuty receiver groups per alert (PagerDuty
deduplicates incidents on `dedup_key` = alert id itself).

The file is validated at startup; every problem is reported at once with its file:line.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.alert import Alert
from schemas.errors import SecmonError

LABELS = ("rule", "severity", "maturity", "tags", "workspace", "team", "entity", "alert_id")
Labels = dict[str, tuple[str, ...]]  # every label may hold several values (tags); absent == ("",)
_MATCHER = re.compile(r'^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$')
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DEFAULT_TIMING = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}


class RoutingError(SecmonError, ValueError):
    """The routes file is invalid; the message lists every problem with its file:line."""


class RouteSpec(BaseModel):
    """One node of the routing tree as written in YAML."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    receiver: str | None = Field(None, description="Receiver name (inherited when absent).")
    matchers: list[str] = Field(default_factory=list, description='Alertmanager matchers: `severity=~"high|critical"`.')
    continue_: bool = Field(False, alias="continue", description="Keep matching siblings after this node matched.")
    group_by: list[str] | None = Field(None, description="Labels whose values split alerts into groups; `...` = all.")
    group_wait: str | int | None = Field(None, description="Wait before the first notification of a new group.")
    group_interval: str | int | None = Field(None, description="Wait before notifying changes to a notified group.")
    repeat_interval: str | int | None = Field(None, description="Wait before re-notifying a group whose alerts grew.")
    routes: list[RouteSpec] = Field(default_factory=list, description="Child nodes, tried in order.")


class RoutesFile(BaseModel):
    """The routes file: team ownership and the tree."""

    model_config = ConfigDict(extra="forbid")

    teams: dict[str, list[str]] = Field(default_factory=dict, description="team -> rule id or tag globs it owns.")
    route: RouteSpec = Field(description="The root node: matches every alert and names the default receiver.")


@dataclass(frozen=True)
class Matcher:
    """`label op value`; regexes are anchored; a list label matches when any value does."""

    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str
    pattern: re.Pattern | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse `name=value`, `name!="v"`, `name=~"a|b"`, `name!~re`; raise ValueError saying what is wrong."""
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f"bad matcher {text!r}; write label=value, label!=value, label=~regex or label!~regex")
        name, op, quoted, bare = found.groups()
        if name not in LABELS:
            raise ValueError(f"unknown label {name!r} in matcher {text!r}; labels are {', '.join(LABELS)}")
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex in matcher {text!r}: {exc}") from None
        return cls(name, op, value, pattern)  # type: ignore[arg-type]

    def matches(self, labels: Labels) -> bool:
        """Whether the labels satisfy this matcher."""
        values = labels.get(self.name) or ("",)
        if self.pattern is None:
            hit = any(v == self.value for v in values)
        else:
            hit = any(self.pattern.fullmatch(v) for v in values)
        return hit if self.op in ("=", "=~") else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


@dataclass(frozen=True)
class Timing:
    """Grouping timers of a route, in seconds."""

    wait: float
    interval: float
    repeat: float


@dataclass(frozen=True)
class Route:
    """A resolved node: everything inherited filled in; `id` is its path (`0`, `0.2`, `0.2.0`)."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    cont: bool
    group_by: tuple[str, ...]
    timing: Timing
    children: tuple[Route, ...] = ()

    def matches(self, labels: Labels) -> bool:
        """All matchers match."""
        return all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True)
class Destination:
    """Where one alert goes: a route's receiver and the group it joins there."""

    route: Route
    receiver: str
    group_by: tuple[str, ...]
    group_labels: dict[str, str]
    group_key: str
    blocked: str | None = None  # "experimental": recorded, never sent to a paging receiver


@dataclass(frozen=True)
class RoutingTree:
    """The validated tree plus what routing needs to know about teams and receivers."""

    root: Route
    teams: dict[str, tuple[str, ...]]
    receiver_kinds: dict[str, str]
    paging: frozenset[str]

    def match(self, labels: Labels) -> list[Route]:
        """Matching routes in order (Alertmanager's walk)."""
        return _walk(self.root, labels, frozenset())

    def resolve(self, labels: Labels) -> list[tuple[Route, str | None]]:
        """(route, blocked) pairs: the walk, where an experimental alert skips paging routes (and falls
        through to the next match) while each skipped one is returned marked "experimental"."""
        if "experimental" not in labels.get("maturity", ()):
            return [(r, None) for r in self.match(labels)]
        routes = [(r, None) for r in _walk(self.root, labels, self.paging)]
        return routes + [(r, "experimental") for r in self.match(labels) if r.receiver in self.paging]

    def labels(self, alert: Alert) -> Labels:
        """The labels routes and silences match on."""
        return alert_labels(alert, self.teams)

    def destinations(self, alert: Alert) -> list[Destination]:
        """Every (route, receiver, group) the alert goes to; experimental-to-pager ones marked blocked."""
        labels = self.labels(alert)
        out = []
        for route, blocked in self.resolve(labels):
            group_by = ("alert_id",) if self.receiver_kinds.get(route.receiver) == "pagerduty" else route.group_by
            names = LABELS if "..." in group_by else group_by
            group = {n: ",".join(labels.get(n) or ("",)) for n in names}
            key = f"{route.id}|{route.receiver}|{compact_json(sorted(group.items()))}"
            out.append(Destination(route, route.receiver, group_by, group, key, blocked))
        return out


def compact_json(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"))` of lists of strings and integers, which group keys
    and notification ids are made of (so their text must never change): orjson's output where it
    is the same (ASCII without DEL), the json module's (which escapes those) otherwise."""
    try:
        text = orjson.dumps(value)
    except TypeError:  # what orjson refuses (integers beyond 64 bits) the json module writes
        return json.dumps(value, separators=(",", ":"))
    if text.isascii() and b"\x7f" not in text:
        return text.decode()
    return json.dumps(value, separators=(",", ":"))


def alert_labels(alert: Alert, teams: Mapping[str, tuple[str, ...]]) -> Labels:
    """rule, severity, maturity, tags, workspace (organization.id), team, entity (dedup key), alert_id."""
    rule = alert.rule
    return {
        "rule": (rule.id,),
        "severity": (alert.alert.severity,),
        "maturity": (rule.maturity,),
        "tags": tuple(rule.tags) or ("",),
        "workspace": ((alert.organization and alert.organization.id) or "",),
        "team": (team_of(teams, rule.id, rule.tags),),
        "entity": (alert.alert.dedup_key,),
        "alert_id": (alert.alert.id,),
    }


def team_of(teams: Mapping[str, tuple[str, ...]], rule_id: str, tags: Iterable[str]) -> str:
    """The first team whose globs match the rule id or one of its tags ("" when none does)."""
    names = (rule_id, *tags)
    return next((t for t, globs in teams.items() if any(fnmatch.fnmatchcase(n, g) for g in globs for n in names)), "")


def parse_labels(pairs: list[str]) -> Labels:
    """`severity=high tags=a,b` (the CLI's syntax) -> labels; list values split on commas."""
    labels: Labels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in LABELS:
            raise ValueError(f"bad label {pair!r}; write name=value with name one of {', '.join(LABELS)}")
        labels[name] = tuple(value.split(",")) if name == "tags" else (value,)
    return labels


def parse_duration(value: str | int | float) -> float:
    """`30s`, `5m`, `1h30m`, `2d` or plain seconds -> seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if not text or _DURATION.sub("", text):
        raise ValueError(f"bad duration {value!r}; use e.g. 0s, 30s, 5m, 1h30m, 2d")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))


def load_routes(path: Path, receivers: Mapping[str, Any]) -> RoutingTree:
    """Read and validate a routes file against the configured receivers (objects with kind/pages)."""
    text = path.read_text(encoding="utf-8")
    lines = _line_index(text)
    problems: list[tuple[tuple, str]] = []
    try:
        spec = RoutesFile.model_validate(yaml.safe_load(text) or {})
    except ValidationError as exc:
        problems = [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
        spec = None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise RoutingError(
            f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}; fix the file at that line"
        ) from None
    root = None
    if spec is not None:
        if spec.route.matchers:
            problems.append((("route", "matchers"), "the root route matches every alert; it cannot have matchers"))
        if not spec.route.receiver:
            problems.append((("route", "receiver"), "the root route needs a receiver (the default)"))
        root = _resolve(spec.route, ("route",), "0", None, receivers, problems)
    if problems:
        raise RoutingError(
            f"invalid routes file {path}:\n  "
            + "\n  ".join(f"{path.name}:{_line_of(lines, loc)} {_dotted(loc)}: {msg}" for loc, msg in problems)
        )
    assert spec is not None and root is not None
    return RoutingTree(
        root=root,
        teams={t: tuple(g) for t, g in spec.teams.items()},
        receiver_kinds={n: r.kind for n, r in receivers.items()},
        paging=frozenset(n for n, r in receivers.items() if r.pages),
    )


def _resolve(
    spec: RouteSpec, loc: tuple, node_id: str, parent: Route | None, receivers: Mapping[str, Any], problems: list
) -> Route:
    """A Route with inherited fields filled in; problems are appended, not raised."""
    receiver = spec.receiver or (parent.receiver if parent else "")
    if spec.receiver and spec.receiver not in receivers:
        problems.append(
            (
                loc + ("receiver",),
                f"unknown receiver {spec.receiver!r}; configured: "
                f"{', '.join(sorted(receivers)) or 'none (set delivery.receivers)'}",
            )
        )
    matchers = []
    for i, text in enumerate(spec.matchers):
        try:
            matchers.append(Matcher.parse(text))
        except ValueError as exc:
            problems.append((loc + ("matchers", i), str(exc)))
    group_by = tuple(spec.group_by) if spec.group_by is not None else (parent.group_by if parent else ())
    for name in group_by:
        if name not in LABELS and name != "...":
            problems.append((loc + ("group_by",), f"unknown label {name!r}; labels are {', '.join(LABELS)} or ..."))
    route = Route(node_id, receiver, tuple(matchers), spec.continue_, group_by, _timing(spec, loc, parent, problems))
    children = tuple(
        _resolve(child, loc + ("routes", i), f"{node_id}.{i}", route, receivers, problems)
        for i, child in enumerate(spec.routes)
    )
    return replace(route, children=children)


def _timing(spec: RouteSpec, loc: tuple, parent: Route | None, problems: list) -> Timing:
    """The node's timers: its own, else its parent's, else the defaults."""
    values = {}
    for yaml_name, attr in (("group_wait", "wait"), ("group_interval", "interval"), ("repeat_interval", "repeat")):
        value = getattr(spec, yaml_name)
        try:
            if value is not None:
                values[attr] = parse_duration(value)
            else:
                values[attr] = getattr(parent.timing, attr) if parent else parse_duration(DEFAULT_TIMING[yaml_name])
        except ValueError as exc:
            problems.append((loc + (yaml_name,), str(exc)))
            values[attr] = 0.0
    return Timing(**values)


def _walk(route: Route, labels: Labels, skip: frozenset[str]) -> list[Route]:
    """Alertmanager's depth-first walk; routes to receivers in `skip` count as not matching."""
    if not route.matches(labels):
        return []
    found: list[Route] = []
    for child in route.children:
        hits = _walk(child, labels, skip)
        found += hits
        if hits and not child.cont:
            break
    return found or ([route] if route.receiver not in skip else [])


def _line_index(text: str) -> dict[tuple, int]:
    """YAML path (keys and list indexes) -> 1-based line, for error messages."""
    index: dict[tuple, int] = {}

    def visit(node: yaml.Node, loc: tuple) -> None:
        index[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[loc + (key.value,)] = key.start_mark.line + 1
                visit(value, loc + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                visit(item, loc + (i,))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        visit(root, ())
    return index


def _line_of(lines: dict[tuple, int], loc: tuple) -> int:
    loc = tuple("continue" if part == "continue_" else part for part in loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _dotted(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
