"""A user signs in from a kind of device they were never seen with (after a learning period).

"Device" is what the User-Agent tells: `secmon.device.type` + `user_agent.name` +
`user_agent.os.name`, e.g. `desktop/Chrome/Mac OS X`. Versions are left out so updates do not
alert. Experimental because that is coarse both ways: a second Mac with Chrome is not new, while
a browser switch, a User-Agent reduction or a ua-parser upgrade that renames a family is.
"""

from __future__ import annotations

from datetime import timedelta

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.identity import device_of, identity_key
from detectors.rules._first_seen import FirstSeenParams, first_seen_step, forget_after

META = DetectorMeta(
    id="signin_new_device",
    title="Sign-in from a device new for the user",
    description="A successful sign-in from a device type + client + OS combination not seen for this "
    "user before, once the learning period is over.",
    version=1,
    severity="low",
    maturity="experimental",
    datasets=("app.signin", "aws.cloudtrail", "okta.system"),  # AWS: ConsoleLogin, Okta: user.session.start
    state=StateSpec(kind="first_seen", key=("user.name",)),
    tags=("attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(days=1),
)


device = device_of  # `type/client/os`, shared with every login source (detectors/identity.py)


def step(state, event, params: FirstSeenParams):
    """Learn the user's devices; alert on a new one after the learning period."""
    return first_seen_step(state, event, params, device, "device")


DETECTOR = Detector(meta=META, params=FirstSeenParams, step=step, key=identity_key, ttl=forget_after)
