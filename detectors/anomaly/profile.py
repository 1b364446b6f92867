"""Bounded building blocks of a behaviour profile, all JSON (a Faust table stores them).

A profile must stay small whatever the entity does for a year: value lists are bounded and
least-recently-seen values go first; counts are halved when they pass `DECAY_AT`, so old habits
fade and the numbers stay small.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from functools import lru_cache
from operator import add
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

USUAL = math.log10(2)  # a bin seen at least half as often as the most usual one is usual too
DECAY_AT = 400  # counts of a histogram or counter are halved beyond this many observations

Counter = list[list[Any]]  # [[value, count], ...], most recently seen last


def seen(counter: Counter, value: object) -> int:
    """How often `value` was counted (0: never, or forgotten)."""
    for v, c in counter:
        if v == value:
            return int(c)
    return 0


def count(counter: Counter, value: object, limit: int) -> Counter:
    """`counter` with `value` counted once more and moved to the end; at most `limit` values.

    The pairs of the other values are shared with `counter`, not copied: profiles are values,
    never changed in place (one loop instead of a lookup, a copy and a sum: this runs 3 times for
    every sign-in)."""
    n: int | None = None
    total, rest = 1, []
    for pair in counter:
        if pair[0] != value:
            rest.append(pair)
            total += pair[1]
        elif n is None:  # the first pair of the value counts, as seen() reads it
            n = pair[1]
    n = n or 0
    rest.append([value, n + 1])
    if total + n > DECAY_AT:
        rest = [[v, max(1, c // 2)] for v, c in rest]
    return rest[-limit:] if len(rest) > limit else rest


def remember(values: list[Any], value: object, limit: int) -> list[Any]:
    """`values` with `value` moved (or added) to the end; at most `limit` values (`values` itself when
    `value` is already its only last one: a user's same device or address again)."""
    if values and values[-1] == value and len(values) <= limit and values.index(value) == len(values) - 1:
        return values
    return ([v for v in values if v != value] + [value])[-limit:]


def top(counter: Counter, k: int = 3) -> list[Any]:
    """The `k` most counted values, most first."""
    return [v for v, _ in sorted(counter, key=lambda vc: -vc[1])[:k]]


def bump(hist: list[int], index: int) -> list[int]:
    """`hist` with bin `index` counted once more (halved past DECAY_AT)."""
    out = list(hist)
    out[index] += 1
    if sum(out) > DECAY_AT:
        out = [c // 2 for c in out]
    return out


def rarity(hist: list[int], index: int, spread: bool = True) -> float:
    """How rare bin `index` is in `hist` compared with the entity's most usual bin: 0 for the usual,
    up to 3 for a bin never seen in a long history (log10 of how much less often it was seen).

    Relative to the usual bin, so the value of an ordinary day stays 0 as the history grows
    (an absolute share would drift with the profile's age and look unusual itself), and 0 for
    any bin seen at least half as often as the usual one (no jitter between ordinary days). With
    `spread`, neighbouring bins (cyclic) count half, so 07:55 is not rare for someone who always
    starts at 08:05."""
    if not any(hist):
        return 0.0
    if spread:  # 2 * (c + (a + b) / 2) of bin i and its neighbours i - 1, i + 1 (cyclic), in integers
        pairs = list(map(add, hist, hist[1:] + hist[:1]))  # bin i + bin i + 1
        twice = max(map(add, pairs, pairs[-1:] + pairs[:-1]))
        # the same floats as c + 0.5 * (a + b) + 0.25: halves and quarters of small integers are exact
        usual, here = twice / 2 + 0.25, (pairs[index] + pairs[index - 1]) / 2 + 0.25
    else:
        usual, here = max(hist) + 0.25, hist[index] + 0.25
    value = math.log10(usual / here)
    return 0.0 if value < USUAL else min(3.0, value)


def usual_range(hist: list[int], share: float = 0.05) -> str:
    """The bins that hold at least `share` of the mass, as `08-17` (hours) or a list."""
    total = sum(hist) or 1
    bins = [i for i, c in enumerate(hist) if c / total >= share]
    if not bins:
        return "none yet"
    return f"{bins[0]:02d}-{bins[-1]:02d}" if len(hist) == 24 else ",".join(WEEKDAYS[i] for i in bins)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local_time(ts: datetime, tz_name: str | None) -> datetime:
    """`ts` in the entity's timezone (UTC when unknown or invalid)."""
    if tz_name:
        try:
            return ts.astimezone(_zone(tz_name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ts


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = ZoneInfo(name)
    return zone


@lru_cache(maxsize=4096)  # a user's few User-Agent strings recur on every sign-in
def digest(text: str) -> str:
    """A short stable digest of a long value (a User-Agent string) to keep in state."""
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=6).hexdigest()


def novelty(known_to_entity: bool, known_to_peers: bool) -> float:
    """0 known to the entity, 0.5 known only to its peers (the workspace), 1 new to both."""
    if known_to_entity:
        return 0.0
    return 0.5 if known_to_peers else 1.0
