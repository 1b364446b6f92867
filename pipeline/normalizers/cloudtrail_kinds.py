"""CloudTrail calls classified into ECS `event.category` / `event.type`: by the call's verb (Create,
Delete, Describe...) and, for the category, its service (iam, cloudtrail, config...)."""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.normalizers.cloudtrail_rules import SECURITY_GROUP_CALLS

VERB = re.compile(r"^[A-Z][a-z]+")
VERB_TYPES = {
    **dict.fromkeys(("Create", "Add", "Run", "Import", "Allocate", "Register"), "creation"),
    **dict.fromkeys(("Delete", "Remove", "Terminate", "Release", "Deregister"), "deletion"),
    **dict.fromkeys(("Get", "List", "Describe", "Head", "Lookup", "Search"), "access"),
    **dict.fromkeys(
        (
            "Put",
            "Update",
            "Modify",
            "Attach",
            "Detach",
            "Set",
            "Authorize",
            "Revoke",
            "Stop",
            "Start",
            "Enable",
            "Disable",
            "Associate",
            "Disassociate",
            "Replace",
            "Reset",
            "Leave",
            "Tag",
            "Untag",
        ),
        "change",
    ),
}
CATEGORY_BY_SERVICE = {
    "iam": ("iam",),
    "sts": ("iam",),
    "sso": ("iam",),
    "identitystore": ("iam",),
    "cloudtrail": ("configuration",),
    "config": ("configuration",),
}
FLOW_LOG_CALLS = frozenset({"CreateFlowLogs", "DeleteFlowLogs"})


@lru_cache(maxsize=1024)
def service_of(event_source: str) -> str | None:
    """`ec2.amazonaws.com` -> ec2."""
    name, _, domain = event_source.partition(".")
    return name if domain == "amazonaws.com" and name else None


def classify(name: str, service: str | None, login: bool, outcome: str) -> tuple[list[str], list[str]]:
    """(event.category, event.type): from the call's verb, and its service for the category."""
    category, kind = _cached(name, service, login, outcome)
    return list(category), list(kind)  # fresh lists: events must not share mutable state


@lru_cache(maxsize=4096)
def _cached(name: str, service: str | None, login: bool, outcome: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if login:
        return ("authentication",), ("start" if outcome == "success" else "info",)
    verb = VERB.match(name)
    kind = VERB_TYPES.get(verb.group(0), "info") if verb else "info"  # Decrypt, AssumeRole, SendCommand...
    if name in SECURITY_GROUP_CALLS or name in FLOW_LOG_CALLS:
        return ("configuration", "network"), (kind,)
    return CATEGORY_BY_SERVICE.get(service or "", ()), (kind,)
