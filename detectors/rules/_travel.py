"""Impossible travel over `Login`s, whatever the login source (app sign-ins, SSH, ...).

A login is compared with the account's last located one. Coordinates (`source.geo.location`,
city-level GeoIP) are used when both have them: the great-circle distance, less both GeoIP accuracy
radii, must be at least `min_km` and imply more than `max_kmh`. Otherwise it falls back to
countries: two different countries that do not share a land border, less than
`country_min_hours` apart (coarse on purpose: a country-level database cannot tell Lille from
Nice). Logins from internal addresses, from the configured VPN/relay ASNs, or without geo are
skipped: they neither alert nor move the account's last known place. A hop back to a country the
account logged in from within `known_days` does not alert (VPN on and off, a phone on the home
carrier: on a labelled month, 47 of 64 benign alerts were VPN toggling between two countries).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import State
from detectors.identity import Login
from detectors.rules._geo import distance_km, is_internal, same_or_neighbours
from detectors.rules._signin import duration

Hop = tuple[State, State, str]  # (earlier place, later place, why it is impossible)
HALF_EARTH_KM = 20_038  # no two places are farther apart


class TravelParams(BaseModel):
    """Speed, distance and country-fallback thresholds, and the ASNs to ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_kmh: float = Field(900.0, gt=0, description="Fastest plausible travel (an airliner), in km/h.")
    min_km: float = Field(500.0, ge=0, description="Shorter distances are GeoIP noise and never alert.")
    country_min_hours: float = Field(
        2.0, gt=0, description="Country fallback: two non-neighbouring countries closer in time than this alert."
    )
    ignore_asns: list[int] = Field(
        default_factory=list, description="VPN/relay AS numbers (source.as.number) whose logins are skipped."
    )
    known_days: float = Field(
        30,
        ge=0,
        description="A hop to a country the account logged in from within this "
        "many days is not impossible travel (VPN on and off, a phone on the home carrier).",
    )
    max_known: int = Field(8, ge=1, le=64, description="Countries remembered per account.")


def place_of(login: Login, params: TravelParams) -> State | None:
    """Where a successful login came from as JSON state, or None when it tells nothing about a place."""
    geo = login.geo
    if not login.success or login.ip is None or geo is None or is_internal(login.ip):
        return None
    if login.as_ is not None and login.as_.number in params.ignore_asns:
        return None
    loc = geo.location
    if loc is None and not geo.country_iso_code:
        return None
    label = ", ".join(p for p in (geo.city_name, geo.country_iso_code) if p) or f"{loc.lat:.2f},{loc.lon:.2f}"
    return {
        "ts": login.ts,
        "ip": login.ip,
        "cc": geo.country_iso_code,
        "place": label,
        "lat": loc.lat if loc else None,
        "lon": loc.lon if loc else None,
        "r": geo.accuracy_radius_km or 0,
        "id": login.event_id,
    }


def travel(prev: State, cur: State, params: TravelParams) -> str | None:
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


def travel_step(state: State | None, login: Login, params: TravelParams) -> tuple[State | None, Hop | None]:
    """Compare the login with the account's last located one; keep the newer of the two.

    Order-insensitive within what the state remembers: a late login that is the earlier of the
    two is compared the same way, and the hop is always reported earlier -> later."""
    cur = place_of(login, params)
    if cur is None:
        return state, None
    if state is None:
        return {**cur, "seen": _seen({}, cur, params)}, None
    seen = _seen(state, cur, params)
    why = None if _known(state, cur, params) else travel(state, cur, params)
    newer = {**(cur if cur["ts"] >= state["ts"] else state), "seen": seen}
    if why is None:
        return newer, None
    first, second = sorted((state, cur), key=lambda p: p["ts"])
    return newer, (first, second, why)


def hop_text(hop: Hop) -> str:
    """`Berlin, DE (198.51.100.23) -> Sydney, AU (203.0.113.80): 16,095 km in 1h 00m (...)`."""
    first, second, why = hop
    return f"{first['place']} ({first['ip']}) -> {second['place']} ({second['ip']}): {why}"


def _known(state: State, cur: State, params: TravelParams) -> bool:
    """True when the account logged in from `cur`'s country within known_days (before this login)."""
    return any(cc == cur["cc"] and cur["ts"] - ts <= params.known_days * 86400 for cc, ts in state.get("seen", ()))


def _seen(state: State, cur: State, params: TravelParams) -> list:
    """[country, last time], most recent last, with `cur` counted (at most max_known)."""
    old = [[cc, ts] for cc, ts in state.get("seen", ()) if cc != cur["cc"]]
    last = max([ts for cc, ts in state.get("seen", ()) if cc == cur["cc"]] + [cur["ts"]])
    return sorted(old + ([[cur["cc"], last]] if cur["cc"] else []), key=lambda p: p[1])[-params.max_known :]


def travel_ttl(params: TravelParams) -> float:
    """The last place stops mattering once no distance could be impossible (half the earth at
    max_kmh, or the country fallback's window) and the countries seen once known_days passed."""
    return max(3600 * max(HALF_EARTH_KM / params.max_kmh, params.country_min_hours), params.known_days * 86400)
