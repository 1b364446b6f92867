"""Two successful sign-ins of one user from places no traveller could cover in the time between.

The logic is shared with `ssh_impossible_travel` and documented in detectors/rules/_travel.py.
"""

from __future__ import annotations

from datetime import timedelta

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from detectors.identity import identity_key, login_of
from detectors.rules._signin import source_of
from detectors.rules._travel import TravelParams, hop_text, travel_step, travel_ttl
from schemas.event import Endpoint, User

META = DetectorMeta(
    id="signin_impossible_travel",
    title="Impossible travel between two sign-ins",
    description="Consecutive successful sign-ins of one user from places too far apart for the time "
    "between them: shared credentials or a stolen session.",
    version=2,
    severity="high",
    maturity="stable",
    datasets=("app.signin", "aws.cloudtrail", "okta.system"),  # AWS: ConsoleLogin, Okta: user.session.start
    state=StateSpec(kind="last_seen", key=("user.name",)),
    tags=("attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(hours=6),
)


Params = TravelParams  # the shared travel thresholds (detectors/rules/_travel.py)


def step(state, event, params: TravelParams):
    """Compare the sign-in with the user's last located one; keep the newer of the two."""
    login = login_of(event)
    if login is None or not login.success:
        return state, []
    state, hop = travel_step(state, login, params)
    if hop is None:
        return state, []
    first, second, _ = hop
    # the entity is the later sign-in, even when the event at hand arrived late and is the earlier one
    source = source_of(event) if second["id"] == login.event_id else Endpoint(ip=second["ip"])
    finding = Finding(
        message=f"impossible travel for {login.user}: {hop_text(hop)}",
        entity=Entity(user=User(name=login.user), source=source, organization=event.organization, cloud=event.cloud),
        timestamp=event.timestamp,
        event_ids=(first["id"], second["id"]),
        datasets=(event.event.dataset,),
    )
    return state, [finding]


DETECTOR = Detector(meta=META, params=TravelParams, step=step, key=identity_key, ttl=travel_ttl)
