"""A security-group ingress rule opens a port outside the allowed list to the whole Internet.

"The whole Internet" is any CIDR with prefix /0, whatever its address part (`0.0.0.0/0`, `::/0`,
`208.236.235.254/0`, `2001:db8::/0`: EC2 ignores the host bits). Rules arrive in every CloudTrail
shape (nested ipPermissions, the flat legacy form, ModifySecurityGroupRules) as
`secmon.firewall_rules`, CIDRs exactly as written. All-protocol rules (-1) and port ranges that
cover a port outside the list count; ICMP has no ports and does not. A successful
RevokeSecurityGroupIngress of every exposing rule resolves the alert (a revoke by rule id names no
CIDR and cannot be matched).

S3 delivers CloudTrail files out of event order, so a revoke can arrive before the authorize it
closes. Each exposing rule keeps the event times of its latest authorize and latest revoke and is
open when the authorize is the later one (same second: the one delivered last), so reordered
deliveries end in the same open rules. An authorize arriving after the revoke that closed it
reports the opening and its resolution at once, as in time order. Revokes of rules not (yet) seen
open are remembered for `reorder_seconds` of event time, for the authorize that may follow.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, State, StateSpec
from schemas.alert import Resource
from schemas.event import Cloud, Event, FirewallRule

OPENING = frozenset({"AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"})
CLOSING = frozenset({"RevokeSecurityGroupIngress"})
PORTLESS = frozenset({"icmp", "icmpv6"})
MAX_EXPOSURES = 50  # rules remembered per group, for the resolution and for revokes delivered early

META = DetectorMeta(
    id="cloud_sg_open_to_world",
    title="Security group opens a port to the whole Internet",
    description="A successful AuthorizeSecurityGroupIngress or ModifySecurityGroupRules adds an ingress rule "
    "from a /0 CIDR (IPv4 or IPv6, whatever the address part) that covers a port outside the "
    "allowed list (80 and 443 by default, per group overridable); all-protocol rules count. "
    "Revoking every such rule resolves the alert.",
    version=2,
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
    allowed_ports_by_group: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Per security group id: the ports it may open instead, e.g. {sg-0bastion: [22]}.",
    )
    world_prefix_v4: int = Field(
        0,
        ge=0,
        le=32,
        description="IPv4 prefixes this short or shorter count as the "
        "Internet (1 also catches a 0.0.0.0/1 + 128.0.0.0/1 split).",
    )
    world_prefix_v6: int = Field(0, ge=0, le=128, description="The same for IPv6.")
    reorder_seconds: int = Field(
        86400,
        ge=0,
        description="How long (event time) a revoke is remembered for an "
        "authorize delivered after it; keep it above detection.lateness_seconds.",
    )


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
    return Entity(
        resource=Resource(type="security_group", id=group_of(event)),
        cloud=Cloud(provider=cloud.provider, region=cloud.region, account=cloud.account) if cloud else None,
    )


def step(state, event: Event, params: Params):
    """Authorize/Modify: a finding per call opening disallowed ports. Revoke: resolve when none is left open."""
    group = group_of(event)
    named = [
        e
        for e in (
            exposure(r, params.allowed_ports_by_group.get(group, params.allowed_ports), params)
            for r in event.secmon.firewall_rules
        )
        if e
    ]
    rules, at = rules_of(state), event.timestamp.timestamp()
    was_open = any(is_open(r) for r in rules.values())
    if event.event.action in CLOSING:
        for exp in named:
            _set(rules.setdefault(rule_id(exp), {"e": exp}), "r", at, by=_actor(event))
        rules = prune(rules, at, params)
        closed = was_open and not any(is_open(r) for r in rules.values())
        return _state(rules), [_revoked(group, event, at, _actor(event))] if closed else []
    if not named:
        return state, []
    for exp in named:
        _set(rules.setdefault(rule_id(exp), {"e": exp}), "a", at)
    account = event.cloud.account.id if event.cloud and event.cloud.account else "unknown"
    message = f"{_actor(event)} opened security group {group} (account {account}) to the whole Internet: " + ", ".join(
        describe(e) for e in named
    )
    findings = [_finding(event, message)]
    if not any(is_open(r) for r in rules.values()):  # revoked later in event time, delivered first
        revoke = max((rules[rule_id(e)] for e in named), key=lambda r: r["r"])
        findings.append(_revoked(group, event, revoke["r"], revoke.get("by", "someone")))
    return _state(prune(rules, at, params)), findings


def _state(rules: dict[str, State]) -> State | None:
    return {"rules": rules} if rules else None


def rule_id(exp: list) -> str:
    """`tcp|22|22|0.0.0.0/0`: one exposing rule of a group."""
    return "|".join(str(part) for part in exp)


def rules_of(state: State | None) -> dict[str, State]:
    """The group's rules {id: {e: exposure, a: authorized at, r: revoked at, w: which came last}}."""
    if state and "open" in state:  # version 1 kept the open exposures only
        return {rule_id(e): {"e": e, "a": 0.0, "w": "a"} for e in state["open"]}
    return {k: dict(v) for k, v in ((state or {}).get("rules") or {}).items()}


def is_open(rule: State) -> bool:
    """Authorized after its latest revoke (the same second: whichever was delivered last)."""
    a, r = rule.get("a"), rule.get("r")
    return a is not None and (r is None or a > r or (a == r and rule.get("w") == "a"))


def _set(rule: State, op: str, at: float, by: str | None = None) -> None:
    if rule.get(op) is None or at >= rule[op]:
        rule[op] = at
        if by is not None:
            rule["by"] = by
    other = rule.get("r" if op == "a" else "a")
    if other is None or at >= other:
        rule["w"] = op


def prune(rules: dict[str, State], at: float, params: Params) -> dict[str, State]:
    """Drop closed rules revoked more than reorder_seconds ago; keep at most MAX_EXPOSURES, open first."""
    newest = max([at] + [t for r in rules.values() for t in (r.get("a"), r.get("r")) if t is not None])
    kept = {k: r for k, r in rules.items() if is_open(r) or r["r"] >= newest - params.reorder_seconds}
    ranked = sorted(kept.items(), key=lambda kv: (is_open(kv[1]), max(kv[1].get("a") or 0, kv[1].get("r") or 0)))
    return dict(ranked[-MAX_EXPOSURES:])


def _revoked(group: str, event: Event, at: float, actor: str) -> Finding:
    return _finding(
        event,
        f"{actor} revoked the Internet-facing rules of security group {group}",
        resolve=True,
        at=datetime.fromtimestamp(at, tz=timezone.utc),
    )


def _actor(event: Event) -> str:
    return (event.user.name or event.user.id or "someone") if event.user else "someone"


def _finding(event: Event, message: str, resolve: bool = False, at: datetime | None = None) -> Finding:
    return Finding(
        message=message,
        entity=entity(event),
        timestamp=at or event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
        resolve=resolve,
    )


def key(event: Event) -> str | None:
    """`<account>|<group>` of a successful ingress rule change."""
    if event.event.outcome != "success" or event.event.action not in OPENING | CLOSING:
        return None
    if not any(r.direction == "ingress" for r in event.secmon.firewall_rules):
        return None
    account = event.cloud.account.id if event.cloud and event.cloud.account and event.cloud.account.id else "-"
    return f"{account}|{group_of(event)}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
