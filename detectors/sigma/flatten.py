"""One flat view of a JSON record: the field names and values Sigma rules are matched against.

The matcher and the SQLite reference the tests compare it with read the same view, so this module
is where "which value does a rule see under `a.b`" is decided, once:

- nested objects give dotted names (`userIdentity.type`); an object or list also appears whole
  under its own name, as compact JSON text (`requestParameters|contains: '"Suspended"'`);
- a name reached through a list of objects (`requestParameters.items.cidrIp`) holds the one value
  found, or the JSON list of all values found when several elements have it;
- JSON null is an absent value (`field: null` and `|exists` agree on it);
- strings match as text; numbers and booleans match through their JSON spelling (`true`, `42`).
"""

from __future__ import annotations

import json
import math
from typing import Any

MISSING = None  # an absent field and a JSON null read the same, as in SQL


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """Dotted name -> value (str, int, float, bool, or JSON text of an object/list)."""
    return {name: value_at(values) for name, values in collect(record).items()}


def collect(record: dict[str, Any]) -> dict[str, list[Any]]:
    """Dotted name -> the values found under it (one, or several through lists), not yet as text."""
    found: dict[str, list[Any]] = {}
    for key, value in record.items():
        _collect(found, str(key), value)
    return found


def _collect(found: dict[str, list[Any]], name: str, value: Any) -> None:
    if value is None:
        return
    found.setdefault(name, []).append(value)
    if isinstance(value, dict):
        for key, child in value.items():
            _collect(found, f"{name}.{key}", child)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                for key, child in item.items():
                    _collect(found, f"{name}.{key}", child)


def value_at(values: list[Any]) -> Any:
    """The value a name holds given the values collected under it (see the module docstring)."""
    value = values[0] if len(values) == 1 else values
    return json_text(value) if isinstance(value, (dict, list)) else value


def json_text(value: Any) -> str:
    """Compact JSON, non-ASCII kept: the text an object or list is matched as."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def text_of(value: Any) -> str:
    """The text a present scalar value is matched as (strings as they are, others as JSON spells them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json_text(str(value))
    return json_text(value)


def number_of(value: Any) -> float | int | None:
    """The number a value stands for (a JSON number or a numeric string), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def leaf_text(record: dict[str, Any]) -> str:
    """Every scalar value of a record, one per line: the text keyword (fieldless) rules search."""
    parts: list[str] = []
    _leaves(record, parts)
    return "\n".join(parts)


def _leaves(value: Any, parts: list[str]) -> None:
    if isinstance(value, dict):
        for child in value.values():
            _leaves(child, parts)
    elif isinstance(value, list):
        for child in value:
            _leaves(child, parts)
    elif value is not None:
        parts.append(text_of(value))
