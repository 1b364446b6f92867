"""Load Sigma rule files unmodified with pySigma; every problem is collected with its file and line.

A file that is not YAML, a rule pySigma rejects, a duplicate id or a correlation naming a rule that
is not there: each becomes a `Problem` and that rule is left out; the others load. The caller
reports the problems together (`secmon sigma check`, the worker's start-up log).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

RULE_SUFFIXES = (".yml", ".yaml")
QUOTED = re.compile(r"'([^']{2,200})'")
DOCUMENT_SEPARATOR = re.compile(r"^---\s*$")


@dataclass(frozen=True, order=True)
class Problem:
    """Why one rule (or file) does not run, and where it is."""

    file: str
    line: int
    rule: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.reason}"


@dataclass(frozen=True)
class Located:
    """A parsed rule and where it was read."""

    rule: SigmaRule | SigmaCorrelationRule
    file: str
    line: int


@dataclass
class Loaded:
    """The rules that parsed (references resolved) and the problems of those that did not."""

    rules: list[Located] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def rule_files(dirs: Iterable[Path]) -> list[Path]:
    """Every rule file under the folders (or the files themselves), sorted, each once."""
    found: set[Path] = set()
    for base in dirs:
        if base.is_file():
            found.add(base)
        elif base.is_dir():
            found |= {p for p in base.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()}
    return sorted(found)


def load(dirs: Iterable[Path]) -> Loaded:
    """Parse every rule file under `dirs`; a missing folder is a problem too."""
    dirs = list(dirs)
    loaded = Loaded()
    loaded.problems += [Problem(str(d), 0, "-", "no such file or folder") for d in dirs if not d.exists()]
    collections = []
    for path in rule_files(dirs):
        collection = _load_file(path, loaded)
        if collection is not None:
            collections.append(collection)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    _resolve(merged, loaded)
    return loaded


def _load_file(path: Path, loaded: Loaded) -> SigmaCollection | None:
    try:
        text = path.read_text(encoding="utf-8")
        collection = SigmaCollection.from_yaml(
            text, collect_errors=True, source=SigmaRuleLocation(path), collect_filters=True, resolve_references=False
        )
    except (OSError, UnicodeDecodeError) as exc:
        loaded.problems.append(Problem(str(path), 0, "-", f"cannot read: {exc}"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        loaded.problems.append(Problem(str(path), line, "-", f"not YAML: {getattr(exc, 'problem', exc)}"))
        return None
    lines = text.splitlines()
    starts = document_lines(lines)
    good = []
    for i, rule in enumerate(collection.rules):
        line = _rule_line(lines, rule, starts[min(i, len(starts) - 1)] if starts else 1)
        if rule.errors:
            loaded.problems += [_problem(path, lines, line, rule, e) for e in rule.errors]
            continue
        good.append(rule)
        loaded.rules.append(Located(rule, str(path), line))
    orphans = [e for e in collection.errors if not any(e in r.errors for r in collection.rules)]
    loaded.problems += [_problem(path, lines, 1, None, e) for e in orphans]
    collection.rules = good
    return collection


def _resolve(merged: SigmaCollection, loaded: Loaded) -> None:
    """Resolve correlation references rule by rule, so one dangling reference costs one rule."""
    by_id: dict[str, Located] = {}
    kept: list[Located] = []
    for located in loaded.rules:
        key = str(located.rule.id) if located.rule.id is not None else None
        if key is not None and key in by_id:
            first = by_id[key]
            loaded.problems.append(
                Problem(
                    located.file,
                    located.line,
                    _name(located.rule),
                    f"duplicate id {key} (first in {first.file}:{first.line})",
                )
            )
            continue
        if key is not None:
            by_id[key] = located
        kept.append(located)
    loaded.rules = []
    for located in kept:
        rule = located.rule
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(merged)
            except SigmaError as exc:
                loaded.problems.append(Problem(located.file, located.line, _name(rule), _reason(exc)))
                continue
        loaded.rules.append(located)


def document_lines(lines: list[str]) -> list[int]:
    """1-based line where each YAML document's content starts (after `---` separators and comments)."""
    starts, waiting = [], True
    for number, text in enumerate(lines, 1):
        if DOCUMENT_SEPARATOR.match(text):
            waiting = True
        elif waiting and text.strip() and not text.lstrip().startswith("#"):
            starts.append(number)
            waiting = False
    return starts or [1]


def _rule_line(lines: list[str], rule: Any, fallback: int) -> int:
    title = getattr(rule, "title", None)
    if title:
        for number, text in enumerate(lines, 1):
            if text.startswith("title:") and title in text:
                return number
    return fallback


def _problem(path: Path, lines: list[str], start: int, rule: Any, exc: Exception) -> Problem:
    line = getattr(getattr(exc, "source", None), "line", None) or _token_line(lines, start, str(exc))
    return Problem(str(path), line, _name(rule), _reason(exc))


def _token_line(lines: list[str], start: int, message: str) -> int:
    """The first line from `start` holding a token the message quotes (e.g. an unknown modifier)."""
    for token in QUOTED.findall(message):
        for number in range(start, len(lines) + 1):
            if token in lines[number - 1]:
                return number
    return start


def _name(rule: Any) -> str:
    if rule is None:
        return "-"
    return str(rule.id) if rule.id is not None else (rule.title or "-")


def _reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    return " ".join(str(text).split())[:500]
