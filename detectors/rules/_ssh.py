"""Shared pieces of the SSH server-access detectors (dataset ssh.auth, from the sshd normalizer).

Counting failed attempts (one attempt writes several lines per connection: Invalid user, Failed,
PAM, max attempts, a failed disconnect) is the shared attempt logic of every login source:
detectors/rules/_attempts.py, over detectors/identity.py's `attempt_of`.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from detectors.base import Entity
from schemas.event import Endpoint, Event, Host, User

DATASET = "ssh.auth"
# Failed lines that name a user the client tried: each is one name for enumeration.
NAME_ACTIONS = frozenset(
    {"ssh_login", "ssh_invalid_user", "ssh_max_auth_attempts", "ssh_disconnect", "ssh_user_not_allowed"}
)
NO_HOST = "-"  # key part of events whose log line named no host (e.g. `sshd[1]: ...` without one)


def source_address(event: Event) -> str | None:
    """The client: source.ip, else source.domain (sshd with UseDNS writes a host name)."""
    src = event.source
    if src is None:
        return None
    return src.ip or src.domain or None


def host_name(event: Event) -> str | None:
    """The server the log line came from (host.name), or None."""
    return event.host.name if event.host and event.host.name else None


def user_name(event: Event) -> str | None:
    """The login name the client asked for (can be empty: `Invalid user  from ...`)."""
    return event.user.name if event.user else None


def source_endpoint(event: Event) -> Endpoint | None:
    """The client endpoint for an alert: address or name, with its geo/AS context (no port: the
    port changes with every connection and is not part of any SSH entity)."""
    src = event.source
    if src is None or (src.ip is None and src.domain is None):
        return None
    return Endpoint(ip=src.ip, domain=src.domain, geo=src.geo, **{"as": src.as_})


def host_entity(event: Event) -> Host | None:
    """The server as an alert entity."""
    name = host_name(event)
    return Host(name=name) if name else None


def entity(event: Event, with_user: bool = False) -> Entity:
    """Alert entity: the client and the server (and the account when `with_user`)."""
    user = user_name(event) if with_user else None
    return Entity(source=source_endpoint(event), host=host_entity(event), user=User(name=user) if user else None)


def connection(event: Event) -> str:
    """Connection id within one source: the client port, else the event itself (old OpenSSH
    wrote no port, so such lines cannot be paired and each stands alone)."""
    port = event.source.port if event.source else None
    return str(port) if port is not None else f"e{event.event.id}"


def event_ids(items: list[str]) -> tuple[str, ...]:
    """The event ids of window items whose first word is the event id."""
    return tuple(item.split(" ", 1)[0] for item in items)


def matches_any(name: str | None, patterns: list[str]) -> bool:
    """True when a host name matches one of the glob patterns (case-insensitive, like DNS)."""
    name = (name or "").lower()
    return any(fnmatchcase(name, p.lower()) for p in patterns)


def sample(names: list[str] | set[str], limit: int = 5) -> str:
    """`a, b, c +2 more`: a few names for a message, sorted so the text is stable."""
    shown = sorted(repr(n) if n == "" or n != n.strip() else n for n in names)
    more = f" +{len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
