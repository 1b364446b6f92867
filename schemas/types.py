"""Annotated field types that carry their Elasticsearch mapping type.

The index templates are generated from the models (schemas/templates.py), so each field states
its ES type once, here or by its Python type, and never again in a hand-written mapping.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_KEYWORD = 1024


@dataclass(frozen=True)
class EsType:
    """The ES mapping of one field, e.g. EsType("ip") or EsType("text")."""

    type: str
    ignore_above: int | None = None
    index: bool = True


@dataclass(frozen=True)
class EsNested:
    """Map a list of objects as `nested` (each object queried as a unit), as ECS does for some arrays."""


NESTED = EsNested()


@lru_cache(maxsize=65536)  # the same addresses recur constantly; parsing dominated the profile
def _canonical_ip(value: str) -> str:
    """Validate an IP and return its canonical text; IPv4-mapped IPv6 becomes plain IPv4."""
    addr = ipaddress.ip_address(value.strip().strip("[]"))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no timezone; secmon stores UTC instants only")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"timestamp {value.isoformat()} is outside the representable range") from None


IP = Annotated[str, AfterValidator(_canonical_ip), EsType("ip")]
Keyword = Annotated[str, Field(max_length=MAX_KEYWORD), EsType("keyword", ignore_above=MAX_KEYWORD)]
LongKeyword = Annotated[str, Field(max_length=65536), EsType("keyword", ignore_above=8191)]
Text = Annotated[str, EsType("text")]
Stored = Annotated[str, EsType("keyword", index=False)]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
