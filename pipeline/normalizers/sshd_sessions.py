"""sshd lines of one connection, paired by process id in a bounded table (kept in ParseOptions.memory).

OpenSSH runs one process per connection and every line of that connection carries its pid, but
not every line says who the client is: `Disconnecting: Too many authentication failures for root`
(OpenSSH < 6.8) and `User root not allowed because account is locked` name no address, a PAM
failure names no port, `Connection closed by A [preauth]` does not say it ends a failed login.
fail2ban reads these lines by their neighbours (its multi-line mode); secmon does the same, here:

- a line without an address gets the connection's latest one (and its port; the user too when
  the line names none), from the lines of the same host and pid before it;
- a disconnect whose outcome the line leaves open (`Connection closed by`, `Received disconnect
  ... Bye Bye`) is a failure, reason `after_failure`, when its connection failed (a failure other
  than a key or `none` probe of a valid user, which a client tries before the key that works) and
  never succeeded: sshd saw the client fail and go.

The detectors pair the same lines again by `process.pid` (one attempt counted once per
connection, detectors/rules/_attempts.py); this table only fills in what the line left out.
Bounded: an entry lives TTL_SECONDS of event time after its connection's last line and at most
MAX_SESSIONS are kept (the least recently written dropped first). A pid the system reused starts
over at a `Connection from` line or at an address other than the one remembered. Lines of one
host must reach one parser in order for this to work (one file, one shipper partition); a line
read alone, or first, is read as before.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace

from pipeline.normalizers.sshd_messages import AMBIGUOUS, Facts

MAX_SESSIONS = 4096  # connections in progress at once per parser; more are a flood, not a session
TTL_SECONDS = 600.0  # sshd's LoginGraceTime is 120 s; a kept session outlives it comfortably
PROBES = frozenset({"publickey", "hostbased", "none"})
AFTER_FAILURE = "after_failure"
# `Connection from A port P [on B port Q]`: sshd's first line of a connection (LogLevel VERBOSE).
_CONNECTION_FROM = re.compile(
    r"Connection from (?P<addr>\S+) port (?P<port>\d{1,5})(?: on \S+ port \d{1,5})?(?: rdomain \"[^\"]*\")?"
)

SessionKey = tuple[str, int]  # (host name or "", pid)


@dataclass(slots=True)
class Session:
    """What the lines of one connection said so far."""

    ts: float
    address: str | None = None
    port: int | None = None
    user: str | None = None
    failed: bool = False
    succeeded: bool = False


class SessionTable:
    """Per (host, pid): the connection's client and verdicts so far; bounded by count and age."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, ttl_seconds: float = TTL_SECONDS) -> None:
        self._max, self._ttl = max_sessions, ttl_seconds
        self._sessions: OrderedDict[SessionKey, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def opened(self, key: SessionKey, message: str, ts: float) -> bool:
        """Start the connection of a `Connection from` line; False for any other message."""
        m = _CONNECTION_FROM.fullmatch(message)
        if m is None:
            return False
        self._put(key, Session(ts=ts, address=m["addr"], port=int(m["port"]) if int(m["port"]) < 65536 else None))
        return True

    def pair(self, key: SessionKey, facts: Facts, ts: float) -> Facts:
        """The facts with what the connection's earlier lines said filled in; the line is remembered."""
        session = self._sessions.get(key)
        if session is not None and (ts - session.ts > self._ttl or ts < session.ts - self._ttl):
            session = None
        if session is not None and facts.address and session.address and facts.address != session.address:
            session = None  # a reused pid: another client
        session = session or Session(ts=ts)
        filled = _fill(facts, session)
        _learn(session, filled, ts)
        self._put(key, session)
        return filled

    def _put(self, key: SessionKey, session: Session) -> None:
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)


def _fill(facts: Facts, session: Session) -> Facts:
    if facts.reason == AMBIGUOUS:
        return facts  # the line may hide another client's address: it stays without a source
    if facts.address is None and session.address is not None:
        facts = replace(facts, address=session.address, port=session.port, user=facts.user or session.user)
    elif facts.port is None and facts.address == session.address and session.port is not None:
        facts = replace(facts, port=session.port)
    if facts.action == "ssh_disconnect" and facts.outcome == "unknown" and session.failed and not session.succeeded:
        facts = replace(facts, outcome="failure", reason=AFTER_FAILURE)  # the client's own text stays in message
    return facts


def _learn(session: Session, facts: Facts, ts: float) -> None:
    session.ts = max(session.ts, ts)
    session.address = facts.address or session.address
    session.port = facts.port if facts.port is not None else session.port
    session.user = facts.user if facts.user is not None else session.user
    if facts.action == "ssh_login" and facts.outcome == "success":  # a Partial one is half a login
        session.succeeded = True
    elif facts.outcome == "failure" and not _is_probe(facts):
        session.failed = True


def _is_probe(facts: Facts) -> bool:
    return facts.action == "ssh_login" and facts.method in PROBES and facts.reason != "invalid_user"
