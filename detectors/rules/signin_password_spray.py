"""One source IP failing for many different users: password spraying (one guess, many accounts)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from detectors.rules._signin import ip_of, key_when, source_of

META = DetectorMeta(
    id="signin_password_spray",
    title="Password spray from one source IP",
    description="Failed sign-ins for many distinct users from the same source IP within the window: "
    "few guesses per account stay under per-user lockouts, the spread gives it away.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110.003"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """How many distinct users within which window make a spray."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_users: int = Field(10, ge=2, description="Distinct user names failing from one IP that make a spray.")
    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")


def _user(item: str) -> str:
    return item.split(" ", 1)[1]


def step(state, event, params: Params):
    """Remember (event id, user) of each failure; alert once enough distinct users failed."""
    if event.event.outcome != "failure":
        return state, []
    user = (event.user.name if event.user else None) or ""
    # lower-cased: "Bob@x" and "bob@x" are one account to the app, so one user here
    item = f"{event.event.id} {user.lower()}"
    state = windows.add(state, event.timestamp.timestamp(), item, params.window_seconds)
    users = windows.distinct(state, _user) - {""}
    if len(users) < params.min_users:
        return state, []
    entries = windows.items(state)
    finding = Finding(
        message=f"failed sign-ins for {len(users)} distinct users from {ip_of(event)} within "
        f"{params.window_seconds}s ({len(entries)} failures)",
        entity=Entity(source=source_of(event)),
        timestamp=event.timestamp,
        event_ids=tuple(i.split(" ", 1)[0] for i in entries),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(
    meta=META, params=Params, step=step, key=key_when("failure", "source.ip"), ttl=lambda params: params.window_seconds
)
