"""A rule's condition tree (as pySigma parses it, after field mapping) -> one Python predicate.

pySigma resolves `1 of selection_*`, `all of them`, detection lists and value lists into AND/OR/NOT
nodes over (field, value) and (value) leaves. Each leaf becomes one closure; the tree becomes
nested any()/all()/not. A condition on an absent field is false, so `not filter` holds when the
filter's field is missing (as in Sigma, and as the SQLite reference reads it with COALESCE).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import SigmaExists, SigmaExpansion, SigmaFieldReference, SigmaNull, SigmaString

from detectors.sigma.flatten import text_of
from detectors.sigma.strings import MULTI, Unsupported, is_cased, parts_of, string_test
from detectors.sigma.values import keyword_test, value_test
from detectors.sigma.view import View

Predicate = Callable[[View], bool]


def compile_condition(node: Any) -> Predicate:
    """The predicate of one parsed condition node."""
    if isinstance(node, ConditionAND):
        args = tuple(compile_condition(a) for a in node.args)
        return lambda view: all(p(view) for p in args)
    if isinstance(node, ConditionOR):
        args = tuple(
            _merged_contains(node.args) + [compile_condition(a) for a in node.args if _contains_literal(a) is None]
        )
        return args[0] if len(args) == 1 else (lambda view: any(p(view) for p in args))
    if isinstance(node, ConditionNOT):
        inner = compile_condition(node.args[0])
        return lambda view: not inner(view)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        return _keyword(node.value)
    raise Unsupported(f"condition element {type(node).__name__} is not supported")


def _field(name: str, value: Any) -> Predicate:
    if isinstance(value, SigmaExpansion):
        return _any([_field(name, v) for v in value.values])
    if isinstance(value, SigmaNull):
        return lambda view: view.get(name) is None
    if isinstance(value, SigmaExists):
        wanted = value.exists
        return lambda view: (view.get(name) is not None) is wanted
    if isinstance(value, SigmaFieldReference):
        return _field_reference(name, value)
    if isinstance(value, SigmaString) and not is_cased(value):
        text_test = string_test(value, lowered=True)

        def lowered(view: View) -> bool:
            text = view.lower(name)
            return text is not None and text_test(text)

        return lowered
    test = value_test(value)

    def predicate(view: View) -> bool:
        v = view.get(name)
        return v is not None and test(v)

    return predicate


def _field_reference(name: str, ref: SigmaFieldReference) -> Predicate:
    """`a|fieldref: b`: a equals b (startswith/endswith/contains when combined), case-insensitive."""
    if ref.starts_with and ref.ends_with:
        relation = str.__contains__
    elif ref.starts_with:
        relation = str.startswith
    elif ref.ends_with:
        relation = str.endswith
    else:
        relation = str.__eq__
    other = ref.field

    def predicate(view: View) -> bool:
        a, b = view.get(name), view.get(other)
        return a is not None and b is not None and relation(text_of(a).lower(), text_of(b).lower())

    return predicate


def _keyword(value: Any) -> Predicate:
    if isinstance(value, SigmaExpansion):
        return _any([_keyword(v) for v in value.values])
    if isinstance(value, SigmaString) and not is_cased(value):
        text_test = string_test(value, keyword=True, lowered=True)
        return lambda view: text_test(view.keywords_lower())
    test = keyword_test(value)
    return lambda view: test(view.keywords())


def _contains_literal(node: Any) -> tuple[str | None, str] | None:
    """(field, or None for a keyword; lowercased literal) when the node is a plain case-insensitive
    substring test, the commonest Sigma test (`|contains` lists, keyword lists)."""
    keyword = isinstance(node, ConditionValueExpression)
    if not (keyword or isinstance(node, ConditionFieldEqualsValueExpression)):
        return None
    value = node.value
    if not isinstance(value, SigmaString) or is_cased(value) or value.contains_placeholder():
        return None
    parts = parts_of(value)
    literal = next((p for p in parts if isinstance(p, str)), None)
    shapes = ([MULTI, literal, MULTI],) + (([literal], [MULTI, literal], [literal, MULTI]) if keyword else ())
    if literal is None or parts not in shapes:
        return None
    return (None if keyword else node.field), literal.lower()


def _merged_contains(args: Any) -> list[Predicate]:
    """One predicate per field (or the keyword text) for all the substring tests ORed on it."""
    groups: dict[str | None, list[str]] = {}
    for arg in args:
        found = _contains_literal(arg)
        if found is not None:
            groups.setdefault(found[0], []).append(found[1])
    return [_any_substring(name, tuple(literals)) for name, literals in groups.items()]


def _any_substring(name: str | None, literals: tuple[str, ...]) -> Predicate:
    def predicate(view: View) -> bool:
        text = view.keywords_lower() if name is None else view.lower(name)
        if text is None:
            return False
        for literal in literals:
            if literal in text:
                return True
        return False

    return predicate


def _any(predicates: list[Predicate]) -> Predicate:
    args = tuple(predicates)
    return lambda view: any(p(view) for p in args)


def required_values(node: Any) -> tuple[str, frozenset[str]] | None:
    """(field, lowercased values) the condition can only hold with: the field must equal one of
    them (literal strings only). The narrowest such field is chosen; None when there is none."""
    bounds = _bounds(node)
    if not bounds:
        return None
    return min(bounds.items(), key=lambda item: (len(item[1]), item[0]))


def _bounds(node: Any) -> dict[str, frozenset[str]]:
    """Field -> the values it must take for `node` to hold (fields without a bound left out)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        value = node.value
        if isinstance(value, SigmaString) and not value.contains_special() and node.field:
            return {node.field: frozenset({str(value).lower()})}
        return {}
    if isinstance(node, ConditionAND):
        merged: dict[str, frozenset[str]] = {}
        for arg in node.args:
            for name, values in _bounds(arg).items():
                merged[name] = merged[name] & values if name in merged else values
        return merged
    if isinstance(node, ConditionOR):
        each = [_bounds(arg) for arg in node.args]
        shared = set.intersection(*(set(b) for b in each)) if each else set()
        return {name: frozenset().union(*(b[name] for b in each)) for name in shared}
    return {}  # NOT names values a rule refuses; a keyword names no field


def required_fields(node: Any) -> set[str]:
    """Fields that must be present for the condition to hold (a test on an absent field is false)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        value = node.value
        if isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists):
            return set()
        extra = {value.field} if isinstance(value, SigmaFieldReference) else set()
        return ({node.field} if node.field else set()) | extra
    if isinstance(node, ConditionAND):
        return set().union(*(required_fields(a) for a in node.args))
    if isinstance(node, ConditionOR):
        return set.intersection(*(required_fields(a) for a in node.args)) if node.args else set()
    return set()  # NOT holds on absent fields; keywords read no field
