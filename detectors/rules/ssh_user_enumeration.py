"""One SSH client trying many different user names: account discovery (admin, oracle, pi, ...).

Brute force counts attempts; this counts distinct names. A client that fails for one name many
times is not enumerating, one that fails once each for `min_users` names is, whatever the host
(scanners sweep fleets). Names are compared as sshd received them (case-sensitive, like Unix
accounts); an empty name is a name tried. Failed methods, invalid users, max-attempts lines,
failed disconnects (`Disconnecting invalid user X ...`) and AllowUsers/DenyUsers refusals count;
PAM failures are left out (they repeat a Failed line).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.rules import _ssh
from detectors.rules._attempts import COUNTED_FROM
from schemas.event import Event

META = DetectorMeta(
    id="ssh_user_enumeration",
    title="SSH user name enumeration from one client",
    description="Failed SSH attempts for many distinct user names from one client address within "
    "the window: guessing which accounts exist before guessing their passwords.",
    version=2,
    severity="medium",
    maturity="stable",
    datasets=(_ssh.DATASET,),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.discovery", "attack.t1087", "attack.credential_access", "attack.t1110"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """How many distinct user names within which window make an enumeration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_users: int = Field(5, ge=2, description="Distinct user names failing from one client that alert.")
    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")


def _counts(event: Event) -> bool:
    return (
        event.event.action in _ssh.NAME_ACTIONS
        and event.event.outcome == "failure"
        and _ssh.user_name(event) is not None
    )


def key(event: Event) -> str | None:
    """The client address, for failed attempts that name a user."""
    return _ssh.source_address(event) if _counts(event) else None


def _item(event: Event) -> str:
    # `<event id> <host> <user>`: ids and host names hold no spaces, user names may.
    return f"{event.event.id} {_ssh.host_name(event) or _ssh.NO_HOST} {_ssh.user_name(event)}"


def _add(state: State | None, ts: float, item: str, window_s: float) -> State:
    """The window with the item added; from COUNTED_FROM items on, with its distinct users and
    hosts counted per item, kept up to date ({"u": {user: items}, "h": {host: items}} under "n"):
    no recount of a large window per failure. A large window without the counts (a small one
    grown, or one written before they were kept) has them counted once."""
    window = state["w"] if state else []
    counts = state.get("n") if state else None
    if counts is None and len(window) + 1 < COUNTED_FROM:  # a small window is recounted, cheaper
        return {"w": windows.slide(window, ts, item, window_s)[0]}
    if counts is None:
        counts = {"u": {}, "h": {}}
        for distinct in dict.fromkeys(e[1] for e in window):
            _recount(counts, distinct, 1)
    counts = {"u": dict(counts["u"]), "h": dict(counts["h"])}
    window, new, gone = windows.slide(window, ts, item, window_s)
    if new:
        _recount(counts, item, 1)
    for left in gone:
        _recount(counts, left, -1)
    return {"w": window, "n": counts}


def _recount(counts: State, item: str, delta: int) -> None:
    _, host, user = item.split(" ", 2)
    windows.count(counts["u"], user, delta)
    windows.count(counts["h"], host, delta)


def step(state, event: Event, params: Params):
    """Remember (event, host, user) of each failure; alert once `min_users` names failed."""
    if not _counts(event):
        return state, []
    state = _add(state, event.timestamp.timestamp(), _item(event), params.window_seconds)
    items = windows.items(state) if "n" not in state else None
    if len(state["n"]["u"] if items is None else {i.split(" ", 2)[2] for i in items}) < params.min_users:
        return state, []
    items = windows.items(state)
    users = {i.split(" ", 2)[2] for i in items}
    hosts = {i.split(" ", 2)[1] for i in items}
    finding = Finding(
        message=f"failed SSH attempts for {len(users)} distinct user names from {_ssh.source_address(event)} "
        f"within {params.window_seconds}s on {len(hosts)} host(s) ({_ssh.sample(users)})",
        entity=Entity(source=_ssh.source_endpoint(event)),
        timestamp=event.timestamp,
        event_ids=_ssh.event_ids(items),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=lambda params: params.window_seconds)
