"""Many failed logins from one source address in a short window: a guessing client, whatever the users.

Every login source (detectors/rules/_attempts.py): app sign-ins per IP, sshd per IP (or the host
name sshd wrote) and server, AWS console/STS per IP and account. The lines sshd writes for one
attempt count once; key probes only on connections sshd cut off. One finding per `threshold`
attempts, then counting starts over (a long attack updates one alert per dedup period).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.identity import LoginSource
from detectors.rules import _attempts
from schemas.event import Event

META = DetectorMeta(
    id="signin_bruteforce_ip",
    title="Brute force from one source IP",
    description="N failed logins (app, SSH, AWS console/STS) from the same source address within the "
    "window, for any users; SSH per server, AWS per account.",
    version=2,
    severity="high",  # app sign-ins; SSH and AWS findings are medium (_attempts.QUIETER)
    maturity="stable",
    datasets=_attempts.DATASETS,
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110"),
    dedup_period=timedelta(hours=1),
)


class Params(_attempts.CountingParams):
    """How many failed attempts from one address make a brute force, per login source."""

    threshold: int = Field(10, ge=2, description="Failed attempts from one address that alert.")
    threshold_by_source: dict[LoginSource, int] = Field(
        default_factory=lambda: _attempts.for_aws(5),
        description="`threshold` for these sources instead (AWS console passwords are rarely mistyped five times).",
    )


def key(event: Event, params: Params) -> str | None:
    """The address entity of a failed attempt (see _attempts.ip_key)."""
    login = _attempts.read(event, params)
    return _attempts.ip_key(login) if login is not None and not login.success else None


def step(state, event: Event, params: Params):
    """Add the attempt; `threshold` attempts are one finding, then start over."""
    login = _attempts.read(event, params)
    if login is None or login.success:
        return state, []
    state = _attempts.add(state, login, params)
    count = _attempts.counted(state)
    if count < params.threshold_by_source.get(login.source, params.threshold):
        return state, []
    items = windows.items(state)
    noun = _attempts.NOUNS[login.source][1]
    names = "" if login.source == "app" else f" (users: {_attempts.sample(_attempts.users(items)) or 'unknown'})"
    message = (
        f"{count} failed {noun} from {login.client}{_attempts.where(login)} within {params.window_seconds}s{names}"
    )
    return None, [_attempts.burst(event, login, items, message, per_user=False)]


DETECTOR = Detector(meta=META, params=Params, step=step, key_with=key, ttl=lambda params: params.window_seconds)
