"""A user signs in from a country they were never seen in (after a learning period)."""

from __future__ import annotations

from datetime import timedelta

from detectors.base import Detector, DetectorMeta, StateSpec, field_value
from detectors.identity import identity_key
from detectors.rules._first_seen import FirstSeenParams, first_seen_step, forget_after

META = DetectorMeta(
    id="signin_new_country",
    title="Sign-in from a country new for the user",
    description="A successful sign-in from a source.geo.country_iso_code not seen for this user "
    "before, once the learning period after their first sign-in is over.",
    version=2,
    severity="low",  # a trip alone is no page: evidence for analysts and anomaly_signin
    maturity="stable",
    datasets=("app.signin", "aws.cloudtrail", "okta.system"),  # AWS: ConsoleLogin, Okta: user.session.start
    state=StateSpec(kind="first_seen", key=("user.name",)),
    tags=("attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(days=1),
)


def country(event) -> str | None:
    """The sign-in's country code (GeoIP), or None when unknown."""
    return field_value(event, "source.geo.country_iso_code") or None


def step(state, event, params: FirstSeenParams):
    """Learn the user's countries; alert on a new one after the learning period."""
    return first_seen_step(state, event, params, country, "country")


DETECTOR = Detector(meta=META, params=FirstSeenParams, step=step, key=identity_key, ttl=forget_after)
