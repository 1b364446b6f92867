"""Many failed logins for one account in a short window: password guessing against it, from any IPs.

For SSH and AWS the failures must come from at least two addresses by default (`min_ips`): there
a single client's burst is signin_bruteforce_ip's alert, and a second one for its user would only
repeat it; app sign-ins keep alerting per user whatever the addresses, as they always did.

Every login source (detectors/rules/_attempts.py): the app user, an SSH account on its server,
an IAM user in its AWS account. A CloudTrail failure for a name that does not exist hides the
name and counts for the address only (signin_bruteforce_ip).
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
    id="signin_bruteforce_user",
    title="Brute force against one user account",
    description="N failed logins (app, SSH, AWS console/STS) for the same account within the window, "
    "from any number of addresses; SSH accounts per server, AWS per account.",
    version=2,
    severity="high",  # app sign-ins; SSH and AWS findings are medium (_attempts.QUIETER)
    maturity="stable",
    datasets=_attempts.DATASETS,
    state=StateSpec(kind="sliding_window", key=("user.name",), window=timedelta(minutes=10)),
    tags=("attack.credential_access", "attack.t1110.001"),
    dedup_period=timedelta(hours=1),
)


class Params(_attempts.CountingParams):
    """How many failed attempts for one account make a brute force, per login source."""

    threshold: int = Field(10, ge=2, description="Failed attempts for one account that alert.")
    threshold_by_source: dict[LoginSource, int] = Field(
        default_factory=lambda: _attempts.for_aws(5),
        description="`threshold` for these sources instead.",
    )
    min_ips: int = Field(1, ge=1, description="Distinct addresses the failures must come from.")
    min_ips_by_source: dict[LoginSource, int] = Field(
        default_factory=lambda: {"ssh": 2, **_attempts.for_aws(2)},
        description="`min_ips` for these sources instead: there a burst from one address is "
        "signin_bruteforce_ip's alert only, not also one for its user.",
    )


def key(event: Event, params: Params) -> str | None:
    """The account entity of a failed attempt (see _attempts.user_key)."""
    login = _attempts.read(event, params)
    return _attempts.user_key(login) if login is not None and not login.success else None


def step(state, event: Event, params: Params):
    """Add the attempt; `threshold` attempts are one finding, then start over."""
    login = _attempts.read(event, params)
    if login is None or login.success:
        return state, []
    state = _attempts.add(state, login, params)
    count = _attempts.counted(state)
    if count < params.threshold_by_source.get(login.source, params.threshold):
        return state, []
    if _attempts.client_count(state) < params.min_ips_by_source.get(login.source, params.min_ips):
        return state, []
    items = windows.items(state)
    ips = _attempts.clients(items)
    noun = _attempts.NOUNS[login.source][1]
    spread = "" if login.source == "app" else f" from {len(ips)} address(es): {_attempts.sample(ips)}"
    message = (
        f"{count} failed {noun} for user {login.user}{_attempts.where(login)} within {params.window_seconds}s{spread}"
    )
    return None, [_attempts.burst(event, login, items, message, per_user=True)]


DETECTOR = Detector(meta=META, params=Params, step=step, key_with=key, ttl=lambda params: params.window_seconds)
