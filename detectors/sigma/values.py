"""Tests of one present field value against one typed Sigma value (modifiers already applied).

Each typed value pySigma produces maps to one small test: strings (wildcards, cased), numbers,
booleans, regular expressions (RE2), CIDR networks, numeric comparisons and timestamp parts.
Values are read through `flatten.text_of` / `number_of`, so a number in a log matches `42` and
`'42'`, and `true` matches a JSON boolean or its text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import re2
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    TimestampPart,
)

from detectors.sigma.flatten import number_of, text_of
from detectors.sigma.strings import Unsupported, string_test

ValueTest = Callable[[Any], bool]

COMPARE: dict[CompareOperators, Callable[[Any, Any], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}
RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
PART_FORMAT = {
    TimestampPart.MINUTE: "%M",
    TimestampPart.HOUR: "%H",
    TimestampPart.DAY: "%d",
    TimestampPart.WEEK: "%W",
    TimestampPart.MONTH: "%m",
    TimestampPart.YEAR: "%Y",
}


def value_test(value: SigmaType) -> ValueTest:
    """The test a present field value must pass to equal (or match) `value`."""
    if isinstance(value, SigmaString):
        test = string_test(value)
        return lambda v: test(text_of(v))
    if isinstance(value, SigmaBool):
        spellings = ("true", "1") if value.boolean else ("false", "0")
        return lambda v: text_of(v).lower() in spellings
    if isinstance(value, SigmaTimestampPart):
        return _timestamp_part_test(value.timestamp_part, lambda part: part == value.number)
    if isinstance(value, SigmaNumber):
        return _number_test(value.number)
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value.network)
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value)
    raise Unsupported(f"value type {type(value).__name__} is not supported")


def keyword_test(value: SigmaType) -> Callable[[str], bool]:
    """A fieldless (keyword) value: a test of the event's searchable text, matched anywhere in it."""
    if isinstance(value, SigmaString):
        return string_test(value, keyword=True)
    if isinstance(value, SigmaNumber):
        needle = str(value.number)
        return lambda text: needle in text
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    raise Unsupported(f"keyword value of type {type(value).__name__} is not supported")


def _number_test(number: int | float) -> ValueTest:
    spelled = str(number)

    def test(v: Any) -> bool:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v == number
        return text_of(v) == spelled

    return test


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    flags = "".join(sorted(RE_FLAGS[f] for f in value.flags))
    try:
        compiled = re2.compile((f"(?{flags})" if flags else "") + str(value.regexp))
    except re2.error as exc:
        raise Unsupported(f"regular expression {str(value.regexp)!r} is not RE2 syntax: {exc}") from None
    return lambda v: compiled.search(text_of(v)) is not None


def _cidr_test(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ValueTest:
    def test(v: Any) -> bool:
        address = _address(text_of(v)) if isinstance(v, str) else None
        return address is not None and address.version == network.version and address in network

    return test


@lru_cache(maxsize=65536)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _compare_test(value: SigmaCompareExpression) -> ValueTest:
    op = COMPARE[value.op]
    bound = value.number.number
    if isinstance(value.number, SigmaTimestampPart):
        return _timestamp_part_test(value.number.timestamp_part, lambda part: op(part, bound))

    def test(v: Any) -> bool:
        number = number_of(v)
        return number is not None and op(number, bound)

    return test


def _timestamp_part_test(part: TimestampPart, check: Callable[[int], bool]) -> ValueTest:
    fmt = PART_FORMAT[part]

    def test(v: Any) -> bool:
        when = _instant(v) if isinstance(v, str) else None
        return when is not None and check(int(when.strftime(fmt)))

    return test


@lru_cache(maxsize=4096)
def _instant(text: str) -> datetime | None:
    """An ISO 8601 time as UTC (no offset: UTC), else None."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
