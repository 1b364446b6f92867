"""Port scans in flow logs (aws.vpcflow): many ports on one host (vertical), one port on many hosts (horizontal).

Per source address within the window, each probed (destination host, destination port) pair counts
once, weighted by what the flow says:
- REJECT (a security group or NACL dropped it): `reject_weight`, 1 by default: scans hit closed ports;
- ACCEPT of at most PROBE_MAX_PACKETS packets over TCP (a SYN, SYN+RST, a connect-scan's
  SYN/ACK/RST): `accept_weight`, 0.5: such a flow is also what a refused or failed connection looks like;
- anything bigger is a conversation, not a probe, and accepted UDP cannot be told from a DNS or NTP
  exchange: neither is routed here. ICMP has no ports and is not counted.
A flow logged in the reply direction (from a service port to a client's ephemeral port) is no probe:
flows with `source.port < destination.port` where the destination port is >= 1024 and either the
source port is < 1024 or the destination port >= EPHEMERAL_MIN are skipped. So a scan sent from
source port 53 (`nmap -g 53`) still counts on ports below 1024, not above.

Vertical: the weighted distinct ports of one destination host reach `vertical_ports`. Horizontal:
the weighted distinct hosts on one destination port reach `horizontal_hosts`. One alert per source
(both kinds together); severity high when the source is an internal address (a scan from inside is
lateral movement), medium when some probes were accepted (ports reachable), else low (blocked
background noise of the Internet).

Bounded state: at most `max_pairs` pairs per source, the oldest dropped first. Counts are exact
while a source probes fewer pairs within the window; beyond, they are lower bounds over its newest
`max_pairs` probes (a scan still alerts when its threshold's worth of probes is among them).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from schemas.event import Endpoint, Event

DATASET = "aws.vpcflow"
PROBE_MAX_PACKETS = 3
EPHEMERAL_MIN = 32768  # Linux's ip_local_port_range starts here; Windows' and macOS' at 49152
SEVERITIES = ("low", "medium", "high")

META = DetectorMeta(
    id="network_port_scan",
    title="Port scan from one source",
    description="One source probing many ports of one host (vertical) or one port on many hosts "
    "(horizontal) within the window, rejected flows weighted above accepted ones; from an "
    "internal address it is lateral movement.",
    version=1,
    severity="medium",
    maturity="experimental",
    datasets=(DATASET,),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=5)),
    tags=("attack.discovery", "attack.t1046", "attack.reconnaissance", "attack.t1595.001"),
    dedup_period=timedelta(hours=1),
)


class Params(BaseModel):
    """Thresholds, weights and bounds of the scan counting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(300, ge=1, description="Event-time window in seconds.")
    vertical_ports: float = Field(20, gt=0, description="Weighted distinct ports of one host that are a vertical scan.")
    horizontal_hosts: float = Field(
        20, gt=0, description="Weighted distinct hosts on one port that are a horizontal scan."
    )
    reject_weight: float = Field(1.0, ge=0, le=1, description="Weight of a rejected probe.")
    accept_weight: float = Field(0.5, ge=0, le=1, description="Weight of an accepted TCP flow of at most 3 packets.")
    max_pairs: int = Field(1024, ge=16, le=10000, description="Probed (host, port) pairs kept per source.")
    exempt_sources: list[IPvAnyNetwork] = Field(
        default_factory=list, description="Sources that scan by design (our vulnerability scanner, monitoring)."
    )


def is_reply(src_port: int, dst_port: int) -> bool:
    """True for a flow in the reply direction: service port -> client's ephemeral port."""
    return src_port < dst_port and dst_port >= 1024 and (src_port < 1024 or dst_port >= EPHEMERAL_MIN)


def probe(event: Event) -> tuple[str, str, int, bool] | None:
    """(source, destination, port, rejected) when the flow is a probe (see the module docstring), else None."""
    src, dst, net = event.source, event.destination, event.network
    if not (src and dst and net and src.ip and dst.ip and dst.port is not None and src.port is not None):
        return None
    if net.transport not in ("tcp", "udp") or is_reply(src.port, dst.port):
        return None
    rejected = event.event.action == "reject"
    if not rejected and (
        net.transport != "tcp"
        or event.event.action != "accept"
        or src.packets is None
        or src.packets > PROBE_MAX_PACKETS
    ):
        return None
    return src.ip, dst.ip, dst.port, rejected


def key(event: Event) -> str | None:
    """The source of probe flows; other flows never reach this detector."""
    found = probe(event)
    return found[0] if found else None


@lru_cache(maxsize=65536)
def is_internal(ip: str) -> bool:
    """Private, loopback, link-local or shared (CGNAT) address space."""
    address = ipaddress.ip_address(ip)
    return address.is_private or address.is_loopback or address.is_link_local or address in _SHARED


_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _exempt(ip: str, params: Params) -> bool:
    return bool(params.exempt_sources) and any(ipaddress.ip_address(ip) in net for net in params.exempt_sources)


def _add(state: State | None, ts: float, pair: str, rejected: bool, eid: str, params: Params) -> dict:
    """The pairs (`"<host> <port>": [last time, ever rejected, event id]`) after adding one probe:
    newest last, out-of-window and over-cap ones dropped."""
    pairs: dict[str, list] = dict(state["p"]) if state else {}
    old = pairs.pop(pair, None)
    pairs[pair] = [max(ts, old[0]), max(int(rejected), old[1]), eid] if old else [ts, int(rejected), eid]
    newest = max(ts, state["hi"]) if state else ts
    horizon = newest - params.window_seconds
    pairs = {k: v for k, v in pairs.items() if v[0] > horizon}
    if len(pairs) > params.max_pairs:
        pairs = dict(list(pairs.items())[-params.max_pairs :])
    return {"p": pairs, "hi": newest, "r": state.get("r") if state else None, "n": state.get("n", 0) if state else 0}


def step(state, event: Event, params: Params):
    """Add the probe; report when a vertical or horizontal scan is first seen or gets louder."""
    found = probe(event)
    if found is None or _exempt(found[0], params):
        return state, []
    source, target, port, rejected = found
    ts = event.timestamp.timestamp()
    state = _add(state, ts, f"{target} {port}", rejected, event.event.id, params)
    pairs = state["p"]
    ports = {k: v for k, v in pairs.items() if k.startswith(target + " ")}
    hosts = {k: v for k, v in pairs.items() if k.endswith(f" {port}")}
    vertical = _score(ports, params) >= params.vertical_ports
    horizontal = _score(hosts, params) >= params.horizontal_hosts
    state["n"] = state.get("n", 0) + 1
    if not (vertical or horizontal):
        return state, []
    counted = {**(ports if vertical else {}), **(hosts if horizontal else {})}
    accepted = sum(1 for v in counted.values() if not v[1])
    severity = "high" if is_internal(source) else "medium" if accepted else "low"
    kinds = ("v" if vertical else "") + ("h" if horizontal else "")
    new = _news(state, kinds, severity, len(counted), ts)
    if new is None:
        return state, []
    finding = Finding(
        message=_message(
            source,
            target,
            port,
            ports if vertical else None,
            hosts if horizontal else None,
            accepted,
            params.window_seconds,
        ),
        entity=Entity(
            source=_endpoint(event), destination=Endpoint(ip=target) if vertical else None, cloud=event.cloud
        ),
        timestamp=event.timestamp,
        event_ids=tuple(v[2] for v in sorted(counted.values())[-new:]),
        datasets=(event.event.dataset,),
        severity=severity,  # type: ignore[arg-type]
    )
    return state, [finding]


def _score(pairs: dict[str, list], params: Params) -> float:
    """Weighted distinct pairs: a pair ever rejected weighs `reject_weight`, else `accept_weight`."""
    rejected = sum(v[1] for v in pairs.values())
    return rejected * params.reject_weight + (len(pairs) - rejected) * params.accept_weight


def _news(state: dict, kinds: str, severity: str, count: int, ts: float) -> int | None:
    """Probes seen since the last report when this is news, else None. News: a scan kind not reported
    yet in this dedup period, a louder severity, or at least twice the probes last reported (O(log n)
    alert updates per scan). Recorded in the state."""
    seen, rank, reported, since, seen_then = state["r"] or ("", -1, 0, ts, 0)
    if ts - since >= META.dedup_period.total_seconds():
        seen, rank, reported, since = "", -1, 0, ts
    new_rank = SEVERITIES.index(severity)
    if set(kinds) <= set(seen) and new_rank <= rank and count < 2 * reported:
        return None
    state["r"] = ("".join(sorted(set(seen) | set(kinds))), max(rank, new_rank), count, since, state["n"])
    return state["n"] - seen_then


def _message(
    source: str, target: str, port: int, ports: dict | None, hosts: dict | None, accepted: int, window: int
) -> str:
    parts = []
    if ports is not None:
        shown = sorted(int(k.rsplit(" ", 1)[1]) for k in ports)
        sample = ", ".join(map(str, shown[:8])) + (f" +{len(shown) - 8} more" if len(shown) > 8 else "")
        parts.append(f"vertical scan: {len(ports)} ports of {target} ({sample})")
    if hosts is not None:
        parts.append(f"horizontal scan: port {port} on {len(hosts)} hosts")
    return f"{source} probed within {window}s: {'; '.join(parts)} ({accepted} probe(s) accepted, the rest rejected)"


def _endpoint(event: Event) -> Endpoint | None:
    src = event.source
    return Endpoint(ip=src.ip, geo=src.geo, **{"as": src.as_}) if src else None


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=lambda params: params.window_seconds)
