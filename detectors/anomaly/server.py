"""Server access behaviour: from which networks and at what hours a user logs in to a host over SSH.

Peers are the host: a network other users reach the host from (the office, the VPN) is less
surprising than one no one ever used. Failed attempts count towards the next success.
"""

from __future__ import annotations

import ipaddress
import math
from functools import lru_cache

from detectors.anomaly.behaviour import Behaviour, Observation, Peers, State
from detectors.anomaly.profile import WEEKDAYS, bump, novelty, rarity, remember, usual_range
from detectors.rules._ssh import host_name, source_address, user_name
from schemas.event import Event

FEATURES = ("hour_rarity", "weekday_rarity", "network_new", "asn_new", "country_new", "method_new", "failures_before")
FAILURE_WINDOW = 3600.0


def network(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) an address belongs to: where a person usually is, not one address."""
    if ip is None:
        return None
    return _network(ip)


@lru_cache(maxsize=4096)  # bounded: the addresses are the client's (attacker's) choice
def _network(ip: str) -> str | None:
    """`network` of an address string: two `ipaddress` parses, so once per address seen lately."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return str(ipaddress.ip_network(f"{ip}/{24 if addr.version == 4 else 48}", strict=False))


def observe(state: State | None, event: Event, peers: Peers) -> tuple[State | None, Observation | None]:
    """Failures are counted; a successful login is compared with the profile, then learned."""
    p = state or {"v": 1, "n": 0, "h": [0] * 24, "d": [0] * 7, "net": [], "asn": [], "cc": [], "m": [], "fail": None}
    ts = event.timestamp.timestamp()
    if event.event.action not in ("ssh_login",):
        return state, None
    if event.event.outcome == "failure":
        if state is None:  # no profile for a name that never logged in (brute force tries thousands)
            return None, None
        fail = p["fail"] if p["fail"] and ts - p["fail"][0] <= FAILURE_WINDOW else [ts, 0]
        return {**p, "fail": [fail[0], fail[1] + 1]}, None
    if event.event.outcome != "success":
        return state, None
    src = event.source
    ip = source_address(event)
    net = network(ip)
    asn = str(src.as_.number) if src and src.as_ and src.as_.number is not None else None
    cc = src.geo.country_iso_code if src and src.geo and src.geo.country_iso_code else None
    method = event.secmon.auth.method if event.secmon.auth and event.secmon.auth.method else "unknown"
    host = host_name(event)
    fails = p["fail"][1] if p["fail"] and ts - p["fail"][0] <= FAILURE_WINDOW else 0
    hour, wday = event.timestamp.hour, event.timestamp.weekday()
    vector = (
        rarity(p["h"], hour),
        rarity(p["d"], wday, spread=False),
        novelty(net is None or net in p["net"], peers.knows(host, "net", net)),
        novelty(asn is None or asn in p["asn"], peers.knows(host, "asn", asn)),
        novelty(cc is None or cc in p["cc"], False),
        0.0 if p["n"] == 0 or method in p["m"] else 1.0,
        min(1.0, math.log1p(fails) / math.log1p(20)),
    )

    def facts() -> dict[str, tuple[str, str]]:  # the profile before this event: `learned` is a copy
        return {
            "hour_rarity": (f"{hour:02d}h UTC", usual_range(p["h"])),
            "weekday_rarity": (WEEKDAYS[wday], usual_range(p["d"], 0.08)),
            "network_new": (net or "unknown", ", ".join(p["net"][-3:]) or "none"),
            "asn_new": (f"AS{asn}" if asn else "unknown", ", ".join(f"AS{a}" for a in p["asn"][-3:]) or "none"),
            "country_new": (cc or "unknown", ", ".join(p["cc"][-3:]) or "none"),
            "method_new": (method, ", ".join(p["m"]) or "none"),
            "failures_before": (f"{fails} failed logins in the hour before", "none"),
        }

    learned = {
        **p,
        "n": min(p["n"] + 1, 400),
        "h": bump(p["h"], hour),
        "d": bump(p["d"], wday),
        "net": remember(p["net"], net, 16) if net else p["net"],
        "asn": remember(p["asn"], asn, 8) if asn else p["asn"],
        "cc": remember(p["cc"], cc, 8) if cc else p["cc"],
        "m": remember(p["m"], method, 4),
        "fail": None,
    }
    peer_values = tuple((host, kind, v) for kind, v in (("net", net), ("asn", asn)) if host and v)
    return learned, Observation(vector=vector, facts=facts, history=p["n"], peer_values=peer_values)


def describe(event: Event) -> str:
    """The login in a few words for the alert message."""
    return f"SSH login of {user_name(event)} to {host_name(event)} from {source_address(event) or 'an unknown address'}"


GROUPS = {
    "hour_rarity": "when",
    "weekday_rarity": "when",
    "network_new": "where",
    "asn_new": "where",
    "country_new": "where",
    "method_new": "how",
    "failures_before": "how",
}
SERVER = Behaviour(
    kind="server_access",
    detector="anomaly_server_access",
    features=FEATURES,
    observe=observe,
    groups=GROUPS,
    describe=describe,
)
