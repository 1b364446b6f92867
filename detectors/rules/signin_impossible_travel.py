"""Two successful sign-ins of one user from places no traveller could cover in the time between.

Coordinates (`source.geo.location`, city-level GeoIP) are used when both sign-ins have them: the
great-circle distance, less both GeoIP accuracy radii, must be at least `min_km` and imply more
than `max_kmh`. Otherwise it falls back to countries (`source.geo.country_iso_code`): two
different countries that do not share a land border, less than `country_min_hours` apart. That
fallback is coarse on purpose (a country-level database cannot tell Lille from Nice), hence the
wide time tolerance and the neighbour exemption. Sign-ins from internal addresses, from the
configured VPN/relay ASNs, or without any geo are skipped: they neither alert nor move the user's
last known place. A hop back to a country the user signed in from within `known_days` does not
alert either: people switch a VPN on and off, or use a laptop abroad while their phone stays on
the home carrier (on a labelled month, 47 of 64 benign alerts were VPN toggling between the same
two countries). The first hop to a new country still alerts.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from detectors.rules._geo import distance_km, is_internal, same_or_neighbours
from detectors.rules._signin import duration, key_when, source_of
from schemas.event import Endpoint, Event, User

META = DetectorMeta(
    id="signin_impossible_travel",
    title="Impossible travel between two sign-ins",
    description="Consecutive successful sign-ins of one user from places too far apart for the time "
                "between them: shared credentials or a stolen session.",
    version=2,
    severity="high",
    maturity="stable",
    datasets=("app.signin",),
    state=StateSpec(kind="last_seen", key=("user.name",)),
    tags=("attack.initial_access", "attack.t1078"),
    dedup_period=timedelta(hours=6),
)


class Params(BaseModel):
    """Speed, distance and country-fallback thresholds, and the ASNs to ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_kmh: float = Field(900.0, gt=0, description="Fastest plausible travel (an airliner), in km/h.")
    min_km: float = Field(500.0, ge=0, description="Shorter distances are GeoIP noise and never alert.")
    country_min_hours: float = Field(2.0, gt=0, description="Country fallback: two non-neighbouring "
                                     "countries closer in time than this alert.")
    ignore_asns: list[int] = Field(default_factory=list, description="VPN/relay AS numbers (source.as.number) "
                                   "whose sign-ins are skipped.")
    known_days: float = Field(30, ge=0, description="A hop to a country the user signed in from within this many "
                              "days is not impossible travel (VPN on and off, a phone on the home carrier).")
    max_known: int = Field(8, ge=1, le=64, description="Countries remembered per user.")


def place_of(event: Event, params: Params) -> State | None:
    """Where a sign-in came from as JSON state, or None when it tells nothing about a place."""
    src = event.source
    if src is None or src.ip is None or src.geo is None or is_internal(src.ip):
        return None
    if src.as_ is not None and src.as_.number in params.ignore_asns:
        return None
    geo = src.geo
    loc = geo.location
    if loc is None and not geo.country_iso_code:
        return None
    label = ", ".join(p for p in (geo.city_name, geo.country_iso_code) if p) or f"{loc.lat:.2f},{loc.lon:.2f}"
    return {"ts": event.timestamp.timestamp(), "ip": src.ip, "cc": geo.country_iso_code, "place": label,
            "lat": loc.lat if loc else None, "lon": loc.lon if loc else None, "r": geo.accuracy_radius_km or 0,
            "id": event.event.id}


def travel(prev: State, cur: State, params: Params) -> str | None:
    """Why going from `prev` to `cur` is impossible, or None when it is plausible (or unknown)."""
    hours = max(abs(cur["ts"] - prev["ts"]), 1.0) / 3600
    span = duration(cur["ts"] - prev["ts"])
    if None not in (prev["lat"], cur["lat"]):
        km = distance_km(prev["lat"], prev["lon"], cur["lat"], cur["lon"]) - prev["r"] - cur["r"]
        if km < params.min_km or km / hours <= params.max_kmh:
            return None
        return f"{km:,.0f} km in {span} ({km / hours:,.0f} km/h)"  # km net of accuracy radii
    if not (prev["cc"] and cur["cc"]) or same_or_neighbours(prev["cc"], cur["cc"]):
        return None
    if hours >= params.country_min_hours:
        return None
    return f"countries {prev['cc']} and {cur['cc']} {span} apart (country level: no coordinates)"


def step(state, event, params: Params):
    """Compare the sign-in with the user's last located one; keep the newer of the two."""
    cur = place_of(event, params) if event.event.outcome == "success" else None
    if cur is None:
        return state, []
    if state is None:
        return {**cur, "seen": _seen({}, cur, params)}, []
    seen = _seen(state, cur, params)
    why = None if _known(state, cur, params) else travel(state, cur, params)
    newer = {**(cur if cur["ts"] >= state["ts"] else state), "seen": seen}
    if why is None:
        return newer, []
    first, second = sorted((state, cur), key=lambda p: p["ts"])
    # the entity is the later sign-in, even when the event at hand arrived late and is the earlier one
    source = source_of(event) if second is cur else Endpoint(ip=second["ip"])
    finding = Finding(
        message=f"impossible travel for {event.user.name}: {first['place']} ({first['ip']}) -> "
                f"{second['place']} ({second['ip']}): {why}",
        entity=Entity(user=User(name=event.user.name), source=source, organization=event.organization),
        timestamp=event.timestamp,
        event_ids=(first["id"], second["id"]),
        datasets=(event.event.dataset,),
    )
    return newer, [finding]


def _known(state: State, cur: State, params: Params) -> bool:
    """True when the user signed in from `cur`'s country within known_days (before this sign-in)."""
    return any(cc == cur["cc"] and cur["ts"] - ts <= params.known_days * 86400 for cc, ts in state.get("seen", ()))


def _seen(state: State, cur: State, params: Params) -> list:
    """[country, last time], most recent last, with `cur` counted (at most max_known)."""
    old = [[cc, ts] for cc, ts in state.get("seen", ()) if cc != cur["cc"]]
    last = max([ts for cc, ts in state.get("seen", ()) if cc == cur["cc"]] + [cur["ts"]])
    return sorted(old + ([[cur["cc"], last]] if cur["cc"] else []), key=lambda p: p[1])[-params.max_known:]


HALF_EARTH_KM = 20_038  # no two places are farther apart


def ttl(params: Params) -> float:
    """The last place stops mattering once no distance could be impossible (half the earth at
    max_kmh, or the country fallback's window) and the countries seen once known_days passed."""
    return max(3600 * max(HALF_EARTH_KM / params.max_kmh, params.country_min_hours), params.known_days * 86400)


DETECTOR = Detector(meta=META, params=Params, step=step, key=key_when("success", "user.name"), ttl=ttl)
