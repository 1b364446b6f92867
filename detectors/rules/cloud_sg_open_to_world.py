"""A security-group ingress rule opens a port outside the allowed list to the whole Internet.

"The whole Internet" is any CIDR with prefix /0, whatever its address part (`0.0.0.0/0`, `::/0`,
`208.236.235.254/0`, `2001:db8::/0`: EC2 ignores the host bits). Rules arrive in every CloudTrail
shape (nested ipPermissions, the flat legacy form, ModifySecurityGroupRules) as
`secmon.firewall_rules`, CIDRs exactly as written. All-protocol rules (-1) and port ranges that
cover a port outside the list count; ICMP has no ports and does not. A successful
RevokeSecurityGroupIngress of every exposing rule resolves the alert (a revoke by rule id names no
CIDR and cannot be matched).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from schemas.alert import Resource
from schemas.event import Cloud, Event, FirewallRule

OPENING = frozenset({"AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"})
CLOSING = frozenset({"RevokeSecurityGroupIngress"})
PORTLESS = frozenset({"icmp", "icmpv6"})
MAX_EXPOSURES = 50  # rules remembered per group, for the resolution

META = DetectorMeta(
    id="cloud_sg_open_to_world",
    title="Security group opens a port to the whole Internet",
    description="A successful AuthorizeSecurityGroupIngress or ModifySecurityGroupRules adds an ingress rule "
                "from a /0 CIDR (IPv4 or IPv6, whatever the address part) that covers a port outside the "
                "allowed list (80 and 443 by default, per group overridable); all-protocol rules count. "
                "Revoking every such rule resolves the alert.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("aws.cloudtrail",),
    state=StateSpec(kind="last_seen", key=("cloud.account.id", "secmon.firewall_rules.group_id")),
    tags=("policy.open_ports", "attack.defense_evasion", "attack.t1562.007"),
    dedup_period=timedelta(days=7),
)


class Params(BaseModel):
    """Ports that may be open to everyone, and what counts as everyone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_ports: list[int] = Field([80, 443], description="Ports any group may open to the Internet.")
    allowed_ports_by_group: dict[str, list[int]] = Field(default_factory=dict, description="Per security group id: "
                                                         "the ports it may open instead, e.g. {sg-0bastion: [22]}.")
    world_prefix_v4: int = Field(0, ge=0, le=32, description="IPv4 prefixes this short or shorter count as the "
                                 "Internet (1 also catches a 0.0.0.0/1 + 128.0.0.0/1 split).")
    world_prefix_v6: int = Field(0, ge=0, le=128, description="The same for IPv6.")


def is_world(cidr: str | None, params: Params) -> bool:
    """True for a CIDR covering (nearly) every address: its prefix, not its address part, decides."""
    address, _, prefix = (cidr or "").strip().rpartition("/")
    if not address or not prefix.isdigit():
        return False
    return int(prefix) <= (params.world_prefix_v6 if ":" in address else params.world_prefix_v4)


def exposure(rule: FirewallRule, allowed: list[int], params: Params) -> list | None:
    """[protocol, first port, last port, cidr] when the rule opens a disallowed port to the Internet."""
    if rule.direction != "ingress" or rule.protocol in PORTLESS or not is_world(rule.cidr, params):
        return None
    ported = rule.protocol in ("tcp", "udp")
    low = rule.from_port if ported and rule.from_port is not None else 0
    high = rule.to_port if ported and rule.to_port is not None else 65535
    low, high = min(low, high), max(low, high)
    if high - low + 1 <= len(allowed) and all(p in allowed for p in range(low, high + 1)):
        return None
    return [rule.protocol if ported else "all", low, high, rule.cidr]


def describe(exp: list) -> str:
    """`tcp 22 from 208.236.235.254/0`, `all traffic from ::/0`, `udp 1000-2000 from 0.0.0.0/0`."""
    protocol, low, high, cidr = exp
    if protocol == "all" or (low, high) == (0, 65535):
        return f"{'all traffic' if protocol == 'all' else protocol + ' all ports'} from {cidr}"
    return f"{protocol} {low if low == high else f'{low}-{high}'} from {cidr}"


def group_of(event: Event) -> str:
    """The security group id of a call (`-` when the request named the group by name only)."""
    return next((r.group_id for r in event.secmon.firewall_rules if r.group_id), "-")


def entity(event: Event) -> Entity:
    """The security group, in its account and region."""
    cloud = event.cloud
    return Entity(resource=Resource(type="security_group", id=group_of(event)),
                  cloud=Cloud(provider=cloud.provider, region=cloud.region, account=cloud.account) if cloud else None)


def step(state, event: Event, params: Params):
    """Authorize/Modify: a finding per call opening disallowed ports. Revoke: resolve when none is left open."""
    group = group_of(event)
    opened = [e for e in (exposure(r, params.allowed_ports_by_group.get(group, params.allowed_ports), params)
                          for r in event.secmon.firewall_rules) if e]
    exposures = list((state or {}).get("open", []))
    if event.event.action in CLOSING:
        revoked = [list(e) for e in opened]
        left = [e for e in exposures if e not in revoked]
        if exposures and not left:
            return {"open": []}, [_finding(event, f"{_actor(event)} revoked the Internet-facing rules of security "
                                                  f"group {group}", resolve=True)]
        return {"open": left}, []
    if not opened:
        return state, []
    exposures = (exposures + [e for e in opened if e not in exposures])[-MAX_EXPOSURES:]
    account = event.cloud.account.id if event.cloud and event.cloud.account else "unknown"
    message = (f"{_actor(event)} opened security group {group} (account {account}) to the whole Internet: "
               + ", ".join(describe(e) for e in opened))
    return {"open": exposures}, [_finding(event, message)]


def _actor(event: Event) -> str:
    return (event.user.name or event.user.id) if event.user and (event.user.name or event.user.id) else "someone"


def _finding(event: Event, message: str, resolve: bool = False) -> Finding:
    return Finding(message=message, entity=entity(event), timestamp=event.timestamp, event_ids=(event.event.id,),
                   datasets=(event.event.dataset,), resolve=resolve)


def key(event: Event) -> str | None:
    """`<account>|<group>` of a successful ingress rule change."""
    if event.event.outcome != "success" or event.event.action not in OPENING | CLOSING:
        return None
    if not any(r.direction == "ingress" for r in event.secmon.firewall_rules):
        return None
    account = event.cloud.account.id if event.cloud and event.cloud.account and event.cloud.account.id else "-"
    return f"{account}|{group_of(event)}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
