"""Which rules an event can match, found without testing them all.

Most rules can only hold when one field equals one of a few literals (CloudTrail rules name their
`eventName`s). Such a rule is filed under (field, value); an event is tested only against the
rules filed under its own values, plus those that name no such field. The result is exactly that of
testing every rule: a rule left out could not have matched (its field equality would fail).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from detectors.sigma.flatten import text_of
from detectors.sigma.view import View


class Indexable(Protocol):
    """A compiled rule as the index sees it."""

    bound: tuple[str, frozenset[str]] | None

    def matches(self, view: View) -> bool:
        """Whether the rule holds for the view."""


R = TypeVar("R", bound=Indexable)


class RuleIndex(Generic[R]):
    """Rules filed by a required (field, literal value), tested in their given order."""

    def __init__(self, rules: Sequence[R]) -> None:
        self.rules = list(rules)
        self._by_field: dict[str, dict[str, list[int]]] = {}
        self._always: list[int] = []
        for position, rule in enumerate(self.rules):
            if rule.bound is None:
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
            value = view.get(name)
            if value is not None:
                positions += by_value.get(text_of(value).lower(), ())
        if len(positions) > len(self._always):
            positions = sorted(set(positions))
        return [self.rules[p] for p in positions]

    def matching(self, view: View) -> list[R]:
        """The rules that match the view, in order."""
        return [rule for rule in self.candidates(view) if rule.matches(view)]

    def __len__(self) -> int:
        return len(self.rules)
