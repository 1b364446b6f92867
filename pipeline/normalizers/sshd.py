"""OpenSSH server authentication events from syslog lines or journald JSON (dataset ssh.auth).

Programs `sshd`, `sshd-session` (OpenSSH >= 9.8) and `sshd-auth`; other programs' lines give [].
Every event has category authentication and network.protocol ssh:

| sshd message                                                          | event.action          | outcome |
|-----------------------------------------------------------------------|-----------------------|---------|
| Accepted <method> for USER from ADDR port N ssh2[: KEY FP]            | ssh_login             | success |
| Failed <method> for [invalid user ]USER from ADDR port N ssh2         | ssh_login             | failure |
| Partial <method> for USER from ADDR port N ssh2: ... (first factor)   | ssh_partial_auth      | success |
| Invalid user USER from ADDR [port N] / Illegal user ...               | ssh_invalid_user      | failure |
| pam_*(sshd:auth): authentication failure; ... rhost= user=            | ssh_pam_auth_failure  | failure |
| PAM: Authentication failure for USER from ADDR (macOS, old Linux)     | ssh_pam_auth_failure  | failure |
| error: maximum authentication attempts exceeded for USER from ...     | ssh_max_auth_attempts | failure |
| User USER [from ADDR] not allowed because ... / ROOT LOGIN REFUSED    | ssh_user_not_allowed  | failure |
| Disconnected from / Connection closed by / Connection reset by /      | ssh_disconnect        | unknown |
|   Received disconnect from ADDR ...: CODE: REASON                     |                       | failure |
|   (failure, reason after_failure: the connection failed, never logged in)|                    |         |
| Disconnecting invalid|authenticating user USER ADDR port N: REASON / | ssh_disconnect        | failure |
|   Disconnecting: Too many authentication failures [for USER] /        |                       |         |
|   Received disconnect from ADDR ...: CODE: ...Auth fail (JSch)        |                       |         |
| refused connect from [IDENT@]HOST [(ADDR)] (tcp wrappers in sshd)     | ssh_connection_refused | failure |
| reverse mapping checking ... / Address .. maps to .. POSSIBLE BREAK-IN | ssh_break_in_attempt | unknown |

secmon.auth.method is the method without its submethod (keyboard-interactive/pam ->
keyboard-interactive); secmon.auth.mfa is false on Partial lines and unknown elsewhere. The key
fingerprint stays in `message` only (the schema has no field for it). A host name written where
an address belongs (UseDNS yes) goes to source.domain, never to source.ip.

PAM failures keep their own action because sshd usually logs a `Failed password` line for the
same attempt: a detector that counts attempts should count one of the two. `message repeated N
times: [ msg ]` (rsyslog) yields N events (at most MAX_REPEATS) with ids 0..N-1. Everything else
sshd says (Postponed, Connection from, session opened/closed, `PAM N more authentication
failures` summaries, Server listening, ...) gives []: it adds nothing a detector needs that the
lines above do not carry.

The user name is chosen by the client and can contain ` from 6.6.6.6 port 1 ssh2`, so each
message is read from sshd's own end of the line (pipeline/normalizers/sshd_messages.py): a name
can never choose the address; a line that fits two ways has no source and reason
`ambiguous_source`. Lines of one connection (one sshd pid) fill in what another left out (an
address, a port; a disconnect after failures is a failure, reason `after_failure`), in a bounded
table: pipeline/normalizers/sshd_sessions.py. Counting attempts, 2FA pairing of Partial/Accepted
lines and whether a `Failed publickey` was only a probe before an accepted key are detectors'
business: the lines carry user, source ip+port, pid and method.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8
from pipeline.normalizers.sshd_messages import Facts, message_facts
from pipeline.normalizers.sshd_sessions import SessionTable
from pipeline.normalizers.syslog_header import EPOCH, LogLine, parse_envelope
from schemas.event import Event
from schemas.ids import event_id, record_key

DATASET = "ssh.auth"
PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})
MAX_REPEATS = 1000  # one line must not fan out without bound; 1000 failures trip any threshold

_REPEATED = re.compile(r"message repeated (?P<count>\d{1,18}) times: \[ ?(?P<inner>.*)\]")
_SNIFF_JOURNAL = re.compile(rb'"SYSLOG_IDENTIFIER" ?: ?"sshd(?:-session|-auth)?"')


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One syslog line or journald object -> 0..MAX_REPEATS authentication events."""
    text = decode_utf8(record.data)
    line = parse_envelope(text, options, record.received, PROGRAMS)
    if line is None:
        return []
    message, count = unwrap_repeat(line.message)
    sessions: SessionTable = options.memory.setdefault(NORMALIZER.id, SessionTable())
    session = (line.host or "", line.pid) if line.pid is not None else None
    ts = line.timestamp.timestamp()
    if session is not None and sessions.opened(session, message, ts):
        return []
    facts = message_facts(message)
    if facts is None:
        return []
    if session is not None:
        facts = sessions.pair(session, facts, ts)
    key = record_key(record.origin, record.data)
    original = text if options.keep_original else None
    return [_to_event(facts, line, message, record, event_id(key, i), original) for i in range(count)]


def unwrap_repeat(message: str) -> tuple[str, int]:
    """(message, times) of rsyslog's `message repeated N times: [ msg ]`; (message, 1) otherwise."""
    if not message.startswith("message repeated "):
        return message, 1
    m = _REPEATED.fullmatch(message)
    if m is None:
        raise ParseError("unrecognized_line", "rsyslog 'message repeated' line without 'N times: [ message ]'")
    count = int(m["count"])
    if count < 1:
        raise ParseError("invalid_field", f"message repeated {count} times")
    return m["inner"], min(count, MAX_REPEATS)


@lru_cache(maxsize=65536)  # attackers and admins recur; ipaddress parsing is the costly part
def split_address(address: str) -> tuple[str | None, str | None]:
    """(canonical IP, None) for an IP address, (None, host name) for anything else sshd wrote."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # drop an IPv6 zone: ES ip fields reject it
    except ValueError:
        return None, address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), None


def _to_event(f: Facts, line: LogLine, message: str, record: RawRecord, eid: str, original: str | None) -> Event:
    # one validation of plain data: building each nested model on its own cost twice as much
    ip, name = split_address(f.address) if f.address else (None, None)
    domain = f.domain or name
    user = f.user
    host = line.host
    auth = {"method": f.method, "mfa": f.mfa} if f.method is not None or f.mfa is not None else None
    return Event.model_validate(
        {
            "timestamp": line.timestamp,
            "message": message,
            "event": {
                "id": eid,
                "category": ["authentication"],
                "type": _event_type(f),
                "action": f.action,
                "outcome": f.outcome,
                "reason": f.reason,
                "code": f.code,
                "dataset": DATASET,
                "module": "sshd",
                "provider": line.program,
                "created": record.received,
                "original": original,
            },
            "source": {"ip": ip, "port": f.port, "address": f.address, "domain": domain} if f.address else None,
            "user": {"name": user} if user is not None else None,
            "host": {"name": host} if host else None,
            "process": {"name": line.program, "pid": line.pid},
            "network": {"protocol": "ssh", "transport": "tcp"},
            "related": _related(f, ip, user, (host, domain)),
            "secmon": {"origin": record.origin, "auth": auth},
        }
    )


def _related(f: Facts, ip: str | None, user: str | None, hosts: tuple[str | None, ...]) -> dict[str, list[str]]:
    # An ambiguous line names no source, but every address it may come from stays searchable.
    candidates = [split_address(a) for a in f.candidates]
    return {
        "ip": list(dict.fromkeys([ip] if ip else [c_ip for c_ip, _ in candidates if c_ip])),
        "user": list(dict.fromkeys([user] if user else [n for n in f.names if n])),
        "hosts": list(dict.fromkeys([h for h in hosts if h] + [name for _, name in candidates if name])),
    }


def _event_type(f: Facts) -> list[str]:
    if f.action == "ssh_login" and f.outcome == "success":
        return ["start"]
    return ["end"] if f.action == "ssh_disconnect" else ["info"]


def _sniff(first: bytes) -> bool:
    if first.lstrip().startswith(b"{"):
        return b'"__REALTIME_TIMESTAMP"' in first and _SNIFF_JOURNAL.search(first) is not None
    text = first.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        return parse_envelope(text, ParseOptions(default_year=2000), EPOCH, PROGRAMS) is not None
    except ParseError:
        return False


NORMALIZER = Normalizer(
    id="sshd", title="OpenSSH server authentication (syslog, journald JSON)", framing="line", parse=parse, sniff=_sniff
)
