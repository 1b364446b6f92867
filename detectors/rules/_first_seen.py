"""Shared logic of the "first seen for this user" detectors (new device, country, ASN).

State per user: when their first sign-in was seen and the values seen since, most recent last,
at most `max_values` (least recently seen dropped first, so state stays small and an old value
that comes back after being dropped counts as new again). Until `learning_days` after the
user's first sign-in, values are only learned: everything is new to a user secmon just met. A user
not seen for `forget_after_days` (a year by default) is forgotten, so state follows the users
still active.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Finding, State
from detectors.identity import login_of
from detectors.rules._signin import user_entity
from schemas.event import Event

DAY_SECONDS = 86400
SHOWN_KNOWN = 5  # known values quoted in the message, most recent first


class FirstSeenParams(BaseModel):
    """Learning period and the bound on values remembered per user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_days: float = Field(
        14, ge=0, description="Days after a user's first sign-in during which values are learned without alerting."
    )
    max_values: int = Field(
        50, ge=1, le=1000, description="Values remembered per user (least recently seen dropped first)."
    )
    forget_after_days: float = Field(
        365,
        ge=1,
        description="A user without a successful sign-in for this long "
        "is forgotten: their next one starts a new learning period.",
    )


def forget_after(params: FirstSeenParams) -> float:
    """Seconds a user's values are kept after their last sign-in (the detectors' ttl)."""
    return params.forget_after_days * DAY_SECONDS


def observe(state: State | None, ts: float, value: str, params: FirstSeenParams) -> tuple[State, bool]:
    """Learn `value` at event time `ts`; True when it is new to the user after the learning period."""
    since = ts if state is None else min(state["since"], ts)
    seen: list[str] = [] if state is None else state["seen"]
    known = value in seen
    seen = [v for v in seen if v != value] + [value]
    learning = ts < since + params.learning_days * DAY_SECONDS
    return {"since": since, "seen": seen[-params.max_values :]}, not known and not learning


def first_seen_step(
    state: State | None, event: Event, params: FirstSeenParams, value_of: Callable[[Event], str | None], what: str
):
    """The step of a first-seen detector: successful logins only (any source `login_of` reads),
    `value_of` picks what is learned."""
    login = login_of(event)
    value = value_of(event) if login is not None and login.success else None
    if login is None or value is None:
        return state, []
    before = state["seen"] if state else []
    state, new = observe(state, login.ts, value, params)
    if not new:
        return state, []
    known = ", ".join(reversed(before[-SHOWN_KNOWN:])) or "none"
    finding = Finding(
        message=f"first sign-in for {login.user} from {what} {value} (from {login.ip or 'unknown'}); "
        f"seen before: {known}",
        entity=replace(user_entity(event), cloud=event.cloud),  # the AWS account of a console login
        timestamp=event.timestamp,
        event_ids=(login.event_id,),
        datasets=(event.event.dataset,),
    )
    return state, [finding]
