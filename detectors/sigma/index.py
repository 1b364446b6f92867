"""Which rules an event can match, found without testing them all.

Many rules can only hold when one field equals one of a few literals (CloudTrail rules name their
`eventName`s): such a rule is filed under (field, value). Most others need some field to be there
at all (a Linux rule's `Image`): they are filed under that field. An event is tested only against
the rules filed under its own values and fields, plus those that need neither. The result is
exactly that of testing every rule: a rule left out could not have matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from detectors.sigma.view import View


class Indexable(Protocol):
    """A compiled rule as the index sees it."""

    @property
    def bound(self) -> tuple[str, frozenset[str]] | None:
        """A (field, literal values) the rule cannot match without, or None."""

    @property
    def needs(self) -> str | None:
        """A field the rule cannot match without, or None."""

    def matches(self, view: View) -> bool:
        """Whether the rule holds for the view."""


R = TypeVar("R", bound=Indexable)


class RuleIndex(Generic[R]):
    """Rules filed by a required (field, literal value), tested in their given order."""

    def __init__(self, rules: Sequence[R]) -> None:
        self.rules = list(rules)
        self._by_field: dict[str, dict[str, list[int]]] = {}
        self._by_presence: dict[str, list[int]] = {}
        self._always: list[int] = []
        for position, rule in enumerate(self.rules):
            if rule.bound is None and rule.needs is not None:
                self._by_presence.setdefault(rule.needs, []).append(position)
            if rule.bound is None:
                if rule.needs is None:
                    self._always.append(position)
                continue
            name, values = rule.bound
            by_value = self._by_field.setdefault(name, {})
            for value in values:
                by_value.setdefault(value, []).append(position)

    def candidates(self, view: View) -> list[R]:
        """The rules that could match the view, in order."""
        positions = list(self._always)
        for name, by_value in self._by_field.items():
            text = view.lower(name)
            if text is not None:
                positions += by_value.get(text, ())
        for name, needing in self._by_presence.items():
            if view.get(name) is not None:
                positions += needing
        if len(positions) > len(self._always):
            positions = sorted(set(positions))
        return [self.rules[p] for p in positions]

    def matching(self, view: View) -> list[R]:
        """The rules that match the view, in order."""
        return [rule for rule in self.candidates(view) if rule.matches(view)]

    def __len__(self) -> int:
        return len(self.rules)
