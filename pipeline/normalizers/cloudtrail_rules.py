"""Security-group rules carried by CloudTrail EC2 calls, as `secmon.firewall_rules`.

CloudTrail records the request as EC2 received it, so one change can arrive in three shapes:
nested `ipPermissions.items[]` (SDKs, Terraform), the flat legacy `groupId/ipProtocol/fromPort/
toPort/cidrIp` form, and `ModifySecurityGroupRulesRequest`. Every value here comes from the
untrusted request body, so each one is type-checked and anything unexpected is left out.
CIDRs are kept exactly as written: `1.2.3.4/0` is still `/0`, and a detector must see that.
"""

from __future__ import annotations

from typing import Any

from schemas.event import FirewallRule

INGRESS_CALLS = frozenset({"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"})
EGRESS_CALLS = frozenset({"AuthorizeSecurityGroupEgress", "RevokeSecurityGroupEgress"})
SECURITY_GROUP_CALLS = INGRESS_CALLS | EGRESS_CALLS | {"ModifySecurityGroupRules", "CreateSecurityGroup"}

# EC2 accepts protocol numbers or names; detectors compare names.
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
# For these, fromPort/toPort are "all" or ICMP type/code, never ports.
PORTLESS = frozenset({"-1", "icmp", "icmpv6"})
MAX_TEXT = 128  # longer than any real protocol, group id or CIDR


def firewall_rules(event_name: str, params: Any) -> list[FirewallRule]:
    """The rules a security-group call adds or removes (none for CreateSecurityGroup)."""
    if not isinstance(params, dict):
        return []
    if event_name == "ModifySecurityGroupRules":
        return _modified_rules(params.get("ModifySecurityGroupRulesRequest"))
    if event_name in INGRESS_CALLS:
        return _permission_rules(params, "ingress")
    if event_name in EGRESS_CALLS:
        return _permission_rules(params, "egress")
    return []


def _permission_rules(params: dict[str, Any], direction: str) -> list[FirewallRule]:
    group_id = _text(params.get("groupId"))
    rules = [
        rule for perm in _items(params.get("ipPermissions")) for rule in _rules_of_permission(perm, direction, group_id)
    ]
    if any(key in params for key in ("ipProtocol", "cidrIp", "fromPort", "toPort")):
        rules += _rules(
            direction,
            group_id,
            params.get("ipProtocol"),
            params.get("fromPort"),
            params.get("toPort"),
            [params.get("cidrIp")],
        )
    return rules


def _rules_of_permission(perm: dict[str, Any], direction: str, group_id: str | None) -> list[FirewallRule]:
    cidrs = [r.get("cidrIp") for r in _items(perm.get("ipRanges"))]
    cidrs += [r.get("cidrIpv6") for r in _items(perm.get("ipv6Ranges"))]
    return _rules(direction, group_id, perm.get("ipProtocol"), perm.get("fromPort"), perm.get("toPort"), cidrs)


def _modified_rules(request: Any) -> list[FirewallRule]:
    if not isinstance(request, dict):
        return []
    group_id = _text(request.get("GroupId"))
    wrappers = request.get("SecurityGroupRule")
    rules = []
    for wrapper in wrappers if isinstance(wrappers, list) else [wrappers]:
        rule = wrapper.get("SecurityGroupRule") if isinstance(wrapper, dict) else None
        if isinstance(rule, dict):
            # The request names the rule by id only, not its direction; the schema needs one, and
            # assuming ingress errs towards flagging an exposure rather than missing it.
            rules += _rules(
                "ingress",
                group_id,
                rule.get("IpProtocol"),
                rule.get("FromPort"),
                rule.get("ToPort"),
                [rule.get("CidrIpv4"), rule.get("CidrIpv6")],
            )
    return rules


def _rules(
    direction: str, group_id: str | None, protocol: Any, from_port: Any, to_port: Any, cidrs: list[Any]
) -> list[FirewallRule]:
    """One rule per CIDR; one rule without a CIDR when the permission names none (e.g. a group)."""
    proto = _protocol(protocol)
    ports = (None, None) if proto in PORTLESS else (_port(from_port), _port(to_port))
    texts: list[str | None] = [c for c in (_text(cidr) for cidr in cidrs) if c is not None] or [None]
    return [
        FirewallRule(
            direction=direction, group_id=group_id, protocol=proto, from_port=ports[0], to_port=ports[1], cidr=cidr
        )
        for cidr in texts
    ]


def _items(value: Any) -> list[dict[str, Any]]:
    """The dicts of an EC2 `{"items": [...]}` list (or of a bare list); nothing for other shapes."""
    if isinstance(value, dict):
        value = value.get("items")
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _protocol(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(value)
    return None if text is None else PROTOCOL_NAMES.get(text, text.lower())


def _port(value: Any) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 5:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        return value
    return None  # -1 (all), out of range or not a number: no port to report


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None
