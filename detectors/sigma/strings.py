"""Sigma string values as text tests: equality, prefix, suffix, substring or a wildcard pattern.

pySigma has already applied the modifiers (contains/startswith/endswith put `*` around the value,
windash/base64/base64offset expanded it), so a value here is literal text with `*` (any run of
characters, newlines included) and `?` (one character). Matching is case-insensitive unless the
value is cased. Patterns of literals and `*` are matched by a linear scan; patterns with `?` by
RE2, so no input can make a match slow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2
from sigma.types import Placeholder, SigmaCasedString, SigmaString, SpecialChars

TextTest = Callable[[str], bool]

MULTI = SpecialChars.WILDCARD_MULTI
SINGLE = SpecialChars.WILDCARD_SINGLE


class Unsupported(ValueError):
    """A rule uses something the matcher cannot evaluate; the rule is skipped with this reason."""


def parts_of(value: SigmaString) -> list[Any]:
    """The value's parts: literal strings and the two wildcards (adjacent literals merged)."""
    parts: list[Any] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise Unsupported(f"placeholder %{part.name}% has no values (detection.sigma.placeholders)")
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
        elif part != "":
            parts.append(part)
    return parts


def is_cased(value: SigmaString) -> bool:
    """Whether the value matches case-sensitively (`|cased`)."""
    return isinstance(value, SigmaCasedString)


def string_test(value: SigmaString, keyword: bool = False, lowered: bool = False) -> TextTest:
    """A test of a text against the value; `keyword`: the value may occur anywhere in the text.
    `lowered`: the caller passes the text lowercased already (only for values that are not cased)."""
    parts = parts_of(value)
    if keyword:
        parts = ([] if parts[:1] == [MULTI] else [MULTI]) + parts + ([] if parts[-1:] == [MULTI] else [MULTI])
    cased = is_cased(value)
    if not cased:
        parts = [p.lower() if isinstance(p, str) else p for p in parts]
    test = _pattern_test(parts)
    return test if cased or lowered else (lambda text: test(text.lower()))


def _pattern_test(parts: list[Any]) -> TextTest:
    if SINGLE in parts:
        return _regex_test(parts)
    literals = [p for p in parts if isinstance(p, str)]
    if not literals:
        return (lambda text: True) if parts else (lambda text: text == "")
    if len(literals) == 1:
        return _one_literal(parts, literals[0])
    return _segments_test(parts)


def _one_literal(parts: list[Any], lit: str) -> TextTest:
    starts, ends = parts[0] is MULTI, parts[-1] is MULTI
    if starts and ends:
        return lambda text: lit in text
    if starts:
        return lambda text: text.endswith(lit)
    if ends:
        return lambda text: text.startswith(lit)
    return lambda text: text == lit


def _segments_test(parts: list[Any]) -> TextTest:
    """Literals separated by `*`: the first anchored at the start, the last at the end (unless a
    `*` stands there), the others found in order in between; leftmost matches are always right."""
    head = "" if parts[0] is MULTI else parts[0]
    tail = "" if parts[-1] is MULTI else parts[-1]
    middle = [
        p
        for p in parts[(0 if parts[0] is MULTI else 1) : (len(parts) if parts[-1] is MULTI else -1)]
        if isinstance(p, str)
    ]
    least = len(head) + len(tail)

    def test(text: str) -> bool:
        if len(text) < least or not text.startswith(head) or not text.endswith(tail):
            return False
        pos, stop = len(head), len(text) - len(tail)
        for lit in middle:
            found = text.find(lit, pos, stop)
            if found < 0:
                return False
            pos = found + len(lit)
        return True

    return test


def _regex_test(parts: list[Any]) -> TextTest:
    pattern = "".join(".*" if p is MULTI else "." if p is SINGLE else re2.escape(p) for p in parts)
    compiled = re2.compile("(?s)" + pattern)
    return lambda text: compiled.fullmatch(text) is not None
