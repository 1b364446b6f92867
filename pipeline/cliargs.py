"""Parsing of command-line values shared by several `secmon` commands."""

from __future__ import annotations

from datetime import datetime, timezone


def instant(text: str | None) -> datetime | None:
    """`now`, an ISO 8601 instant with a timezone, or None (for `--until`)."""
    if text is None:
        return None
    if text == "now":
        return datetime.now(timezone.utc)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"--until {text}: give a timezone, e.g. {text}Z")
    return value
