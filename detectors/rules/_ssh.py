"""Shared logic of the SSH server-access detectors (dataset ssh.auth, from the sshd normalizer).

What sshd writes for one authentication attempt decides what may be counted. Per connection
(source address + port) sshd logs:

- `Invalid user X from A port P` once, when the client first names an unknown account,
- one `Failed <method> for [invalid user ]X ...` per rejected attempt (publickey and `none`
  failures of valid users only from LogLevel VERBOSE, or past MaxAuthTries/2),
- `maximum authentication attempts exceeded ...` once, right after the Failed line that hit the
  limit,
- a PAM failure next to most `Failed password` lines (the same attempt, seen by PAM).

- a disconnect that says authentication failed (sshd's `Disconnecting invalid|authenticating user
  ...`, a client's `Received disconnect ...: Auth fail`) at most once or twice, at the end.

So `attempts()` counts, per connection, the largest of its Failed lines, Invalid user lines,
max-attempts lines and failed disconnects: `Invalid user admin` + `Failed password for invalid
user admin` on one port is one attempt, not two; four `Failed password` + `maximum ... exceeded`
is four. PAM failures are not routed at all (they double the Failed lines and carry no port to
pair them with).

A client offers every key of its agent (and `none`) before the one that works, so `Failed
publickey|hostbased|none` of an existing account is no guess: those lines count only on a
connection that sshd cut off for failing (a max-attempts line or a failed disconnect), never on
one whose next key is accepted. This is decided here, not in the normalizer, because only the
connection's later lines tell. For an invalid user they count at once: no key can succeed.
"""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase

from detectors.base import Entity
from schemas.event import Endpoint, Event, Host, User

DATASET = "ssh.auth"
# Failed attempts the counting detectors read, with the letter that groups them per connection.
ATTEMPT_KINDS = {"ssh_login": "f", "ssh_invalid_user": "i", "ssh_max_auth_attempts": "x", "ssh_disconnect": "d"}
PROBE_METHODS = frozenset({"publickey", "hostbased", "none"})  # tried in turn before the one that works
PROBE, CUT_OFF = "k", frozenset({"x", "d"})  # a probe's kind; the kinds that show sshd ended the connection
# Enumeration also learns names from AllowUsers/DenyUsers refusals: each is one name tried.
NAME_ACTIONS = frozenset({*ATTEMPT_KINDS, "ssh_user_not_allowed"})
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


def is_failed_attempt(event: Event) -> bool:
    """A failed authentication the brute-force detector counts (see the module docstring)."""
    return event.event.action in ATTEMPT_KINDS and event.event.outcome == "failure"


def attempt_kind(event: Event) -> str:
    """The letter of a failed attempt: f(ailed), i(nvalid user), x (max attempts), d(isconnect) or
    k, a key or `none` probe of an existing account (counts only on a connection cut off)."""
    kind = ATTEMPT_KINDS[event.event.action or ""]
    method = event.secmon.auth.method if event.secmon.auth else None
    if kind == "f" and method in PROBE_METHODS and event.event.reason != "invalid_user":
        return PROBE
    return kind


def attempt_item(event: Event) -> str:
    """Window item of one failed attempt: `<event id> <connection> <kind> <user>` (the user last:
    client-chosen names can hold spaces)."""
    return f"{event.event.id} {connection(event)} {attempt_kind(event)} {user_name(event) or ''}"


def attempts(items: list[str]) -> int:
    """Attempts behind window items: per connection, the largest count among its kinds (probes
    only where sshd cut the connection off). Order-free: a late line changes nothing else."""
    per_kind = Counter(tuple(item.split(" ")[1:3]) for item in items)
    cut_off = {conn for conn, kind in per_kind if kind in CUT_OFF}
    best: dict[str, int] = {}
    for (conn, kind), n in per_kind.items():
        if kind != PROBE or conn in cut_off:
            best[conn] = max(best.get(conn, 0), n)
    return sum(best.values())


def attempt_users(items: list[str]) -> set[str]:
    """Distinct user names among attempt items."""
    return {item.split(" ", 3)[3] for item in items}


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
