"""Sign-in behaviour: a user's usual hours, days, devices, networks, countries and way of signing in.

Failed sign-ins only count towards `failures` of the next success (and only for a user with a
profile: made-up names get none); a success is compared with the profile (features below,
larger = more unusual for this user), then learned.
"""

from __future__ import annotations

import math
from typing import Any

from detectors.anomaly.behaviour import Behaviour, Observation, Peers, State
from detectors.anomaly.profile import (
    WEEKDAYS,
    bump,
    count,
    digest,
    local_time,
    novelty,
    rarity,
    remember,
    seen,
    top,
    usual_range,
)
from detectors.rules._geo import distance_km, is_internal, same_or_neighbours
from detectors.rules._signin import duration
from schemas.event import Event

FEATURES = (
    "hour_rarity",
    "weekday_rarity",
    "device_new",
    "asn_new",
    "country_new",
    "ip_new",
    "travel",
    "failures_before",
    "mfa_drop",
    "auth_method_new",
)
FAILURE_WINDOW = 3600.0  # failures this long before a success count as "before" it
LOG_FAILURES = math.log1p(20)  # 20 failures before a success: the feature is 1
LIMITS = {"ua": 8, "br": 6, "os": 6, "asn": 12, "cc": 8, "ip": 8, "am": 4}
VERSION = 1


def empty() -> State:
    """A profile that has seen nothing."""
    return {
        "v": VERSION,
        "n": 0,
        "h": [0] * 24,
        "d": [0] * 7,
        "ua": [],
        "br": [],
        "os": [],
        "asn": [],
        "cc": [],
        "ip": [],
        "am": [],
        "mfa": 0,
        "last": None,
        "fail": None,
    }


def observe(state: State | None, event: Event, peers: Peers) -> tuple[State | None, Observation | None]:
    """Learn from one sign-in; for a success, the observation made before learning it."""
    if event.event.outcome == "failure":
        # a name that never signed in gets no profile: a spray of made-up names must not grow state
        return (_failed(state, event) if state else None), None
    profile = state or empty()
    if event.event.outcome != "success":
        return state, None
    facts = _facts(profile, event)
    obs = _observation(profile, facts, event, peers)
    return _learn(profile, facts, event), obs


def _failed(profile: State, event: Event) -> State:
    ts = event.timestamp.timestamp()
    fail = profile["fail"]
    if fail is None or ts - fail["first"] > FAILURE_WINDOW:
        fail = {"n": 0, "first": ts, "ips": []}
    ip = event.source.ip if event.source and event.source.ip else "unknown"
    ips = [i for i in fail["ips"] if i != ip] + [ip]
    return {**profile, "fail": {"n": fail["n"] + 1, "first": fail["first"], "ips": ips[-4:]}}


def _facts(profile: State, event: Event) -> dict[str, Any]:
    """The raw facts of a sign-in the features are computed from."""
    known = event.secmon.context
    local = local_time(event.timestamp, known.user_timezone if known else None)
    src, ua = event.source, event.user_agent
    geo = src.geo if src else None
    asn = src.as_.number if src and src.as_ and src.as_.number is not None else None
    auth = event.secmon.auth
    return {
        "ts": event.timestamp.timestamp(),
        "hour": local.hour,
        "wday": local.weekday(),
        "ua": digest(ua.original) if ua and ua.original else None,
        "br": ua.name if ua and ua.name else None,
        "os": ua.os.name if ua and ua.os and ua.os.name else None,
        "dev": event.secmon.device.type if event.secmon.device else "unknown",
        "asn": str(asn) if asn is not None else None,
        "asn_name": src.as_.organization.name if src and src.as_ and asn is not None and src.as_.organization else None,
        "cc": geo.country_iso_code if geo and geo.country_iso_code else None,
        "lat": geo.location.lat if geo and geo.location else None,
        "lon": geo.location.lon if geo and geo.location else None,
        "ip": src.ip if src and src.ip else None,
        "internal": bool(src and src.ip and is_internal(src.ip)),
        "method": auth.method if auth and auth.method else "unknown",
        "mfa": bool(auth and auth.mfa),
        "group": event.organization.id if event.organization and event.organization.id else None,
    }


def _observation(p: State, f: dict[str, Any], event: Event, peers: Peers) -> Observation:
    n, group, asn_value, cc_value = p["n"], f["group"], f["asn"], f["cc"]
    device = _device_novelty(p, f)
    asn = novelty(asn_value is None or seen(p["asn"], asn_value) > 0, peers.knows(group, "asn", asn_value))
    cc = novelty(cc_value is None or seen(p["cc"], cc_value) > 0, peers.knows(group, "cc", cc_value))
    fail = p["fail"]
    fails = fail["n"] if fail and f["ts"] - fail["first"] <= FAILURE_WINDOW else 0
    mfa_share = p["mfa"] / n if n else 0.0
    mfa_drop = 1.0 if n >= 5 and mfa_share >= 0.8 and not f["mfa"] else 0.0
    method_new = 0.0 if n == 0 or seen(p["am"], f["method"]) else 1.0
    # hopping between places the user is known at (home and a VPN exit) is their normal
    travel, travel_text = _travel(p["last"], f) if cc > 0 else (0.0, "a place known for the user")
    vector = (
        rarity(p["h"], f["hour"]),
        rarity(p["d"], f["wday"], spread=False),
        device,
        asn,
        cc,
        0.0 if f["ip"] is None or f["ip"] in p["ip"] else 1.0,
        travel,
        min(1.0, math.log1p(fails) / LOG_FAILURES) if fails else 0.0,
        mfa_drop,
        method_new,
    )

    def facts() -> dict[str, tuple[str, str]]:  # of the profile before this sign-in (_learn copies it)
        return _explained(p, f, fails, mfa_share, travel_text)

    peer_values: tuple[tuple[str, str, str], ...] = ()
    if group:  # written out: a generator here cost more than the rest of the line
        if asn_value and cc_value:
            peer_values = ((group, "asn", asn_value), (group, "cc", cc_value))
        elif asn_value or cc_value:
            peer_values = ((group, "asn", asn_value),) if asn_value else ((group, "cc", cc_value),)
    return Observation(vector=vector, facts=facts, history=n, peer_values=peer_values)


def _explained(
    p: State, f: dict[str, Any], fails: int, mfa_share: float, travel_text: str
) -> dict[str, tuple[str, str]]:
    """What the sign-in showed against the user's normal, per feature, in an analyst's words."""
    return {
        "hour_rarity": (f"{f['hour']:02d}h local", usual_range(p["h"])),
        "weekday_rarity": (WEEKDAYS[f["wday"]], usual_range(p["d"], 0.08)),
        "device_new": (_device_text(f), f"{len(p['ua'])} known: " + (", ".join(p["br"][-2:]) or "none")),
        "asn_new": (
            f"AS{f['asn']}" + (f" {f['asn_name']}" if f["asn_name"] else "") if f["asn"] else "unknown",
            ", ".join(f"AS{a}" for a in top(p["asn"])) or "none",
        ),
        "country_new": (f["cc"] or "unknown", ", ".join(top(p["cc"])) or "none"),
        "ip_new": (f["ip"] or "unknown", f"{len(p['ip'])} recent addresses"),
        "travel": (travel_text, "plausible travel"),
        "failures_before": (f"{fails} failed sign-ins in the hour before" + _fail_ips(p, fails), "none"),
        "mfa_drop": ("no MFA", f"MFA on {mfa_share:.0%} of sign-ins"),
        "auth_method_new": (f["method"], ", ".join(top(p["am"])) or "none"),
    }


def _device_novelty(p: State, f: dict[str, Any]) -> float:
    if f["ua"] is None or f["ua"] in p["ua"]:
        return 0.0
    known_family = (f["br"] is None or f["br"] in p["br"]) and (f["os"] is None or f["os"] in p["os"])
    return 0.5 if known_family else 1.0


def _device_text(f: dict[str, Any]) -> str:
    return f"{f['br'] or 'unknown client'} on {f['os'] or 'unknown OS'} ({f['dev']})"


def _fail_ips(p: State, fails: int) -> str:
    return f" (from {', '.join(p['fail']['ips'])})" if fails and p["fail"] else ""


def _travel(last: dict[str, Any] | None, f: dict[str, Any]) -> tuple[float, str]:
    """0 plausible .. 1 impossible: speed from coordinates, else non-neighbouring countries in little time."""
    if last is None or f["internal"] or f["cc"] is None:
        return 0.0, "no earlier place"
    hours = max(abs(f["ts"] - last["ts"]), 1.0) / 3600
    span = duration(f["ts"] - last["ts"])
    if None not in (last.get("lat"), f["lat"]):
        km = distance_km(last["lat"], last["lon"], f["lat"], f["lon"])
        if km < 500:
            return 0.0, f"{km:,.0f} km from the last sign-in"
        kmh = km / hours
        return (0.0 if kmh <= 1000 else min(1.0, kmh / 2000)), f"{km:,.0f} km in {span} ({kmh:,.0f} km/h)"
    if last["cc"] is None or same_or_neighbours(last["cc"], f["cc"]):
        return 0.0, f"{last['cc']} -> {f['cc']}"
    return (1.0 if hours < 2 else 0.0), f"{last['cc']} -> {f['cc']} in {span}"


def _learn(p: State, f: dict[str, Any], event: Event) -> State:
    out = dict(p)
    out["n"] = p["n"] + 1
    out["h"], out["d"] = bump(p["h"], f["hour"]), bump(p["d"], f["wday"])
    for key in ("ua", "br", "os", "ip"):
        if f[key] is not None:
            out[key] = remember(p[key], f[key], LIMITS[key])
    for key in ("asn", "cc"):  # counted: the message quotes the usual ones, most used first
        if f[key] is not None:
            out[key] = count(p[key], f[key], LIMITS[key])
    out["am"] = count(p["am"], f["method"], LIMITS["am"])
    out["mfa"] = p["mfa"] + (1 if f["mfa"] else 0)
    if out["n"] > 400:  # keep the MFA share meaningful while counts stay small
        out["n"], out["mfa"] = out["n"] // 2, out["mfa"] // 2
    if not f["internal"] and f["cc"] is not None:
        out["last"] = {"ts": f["ts"], "cc": f["cc"], "lat": f["lat"], "lon": f["lon"]}
    out["fail"] = None
    return out


def describe(event: Event) -> str:
    """The sign-in in a few words for the alert message."""
    src = event.source
    where = src.ip if src and src.ip else "an unknown address"
    cc = src.geo.country_iso_code if src and src.geo and src.geo.country_iso_code else None
    return f"sign-in of {event.user.name if event.user else 'an unknown user'} from {where}" + (
        f" ({cc})" if cc else ""
    )


GROUPS = {
    "hour_rarity": "when",
    "weekday_rarity": "when",
    "device_new": "device",
    "asn_new": "where",
    "country_new": "where",
    "ip_new": "where",
    "travel": "travel",
    "failures_before": "how",
    "mfa_drop": "how",
    "auth_method_new": "how",
}
SIGNIN = Behaviour(
    kind="signin", detector="anomaly_signin", features=FEATURES, observe=observe, groups=GROUPS, describe=describe
)
