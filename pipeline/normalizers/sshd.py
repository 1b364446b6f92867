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
|   Received disconnect from / Disconnecting ...                        |                       |         |
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

The user name is chosen by the client and can contain ` from 6.6.6.6 port 1 ssh2`, so the
address is read from the sshd-written end of a line (greedy user); after `ssh2: ` only the key
text sshd itself writes is accepted. No correlation across lines happens here (2FA pairing of
Partial/Accepted lines is a detector's job: both carry user, source ip+port and method).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from pipeline.normalizers.base import Normalizer, ParseContext, ParseError, RawRecord, decode_utf8
from pipeline.normalizers.syslog_header import EPOCH, LogLine, parse_envelope
from schemas.event import Auth, Endpoint, Event, EventMeta, Host, Network, Outcome, Process, Related, Secmon, User
from schemas.ids import event_id, record_key
from schemas.types import MAX_KEYWORD

DATASET = "ssh.auth"
PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})
MAX_REPEATS = 1000  # one line must not fan out without bound; 1000 failures trip any threshold

_FOR_USER = r"for (?:(?P<invalid>invalid|illegal) user )?(?P<user>.*)"
_VERDICT = r"(?P<verdict>Accepted|Failed|Partial) (?P<method>[\w-]+)(?:/[\w-]+)? "
# What sshd appends after `ssh2: `: key type + fingerprint (publickey, hostbased, certificates) or
# protocol 1's `ruser NAME`; anything else there was typed by the client into the user name.
_AUTH_INFO = r"(?:: (?:[A-Z][A-Z0-9-]* \S.*|ruser .*))?"
_AUTH = re.compile(_VERDICT + _FOR_USER + r" from (?P<addr>\S+) port (?P<port>\d{1,5})(?: ssh\d?)?" + _AUTH_INFO)
_AUTH_NO_PORT = re.compile(_VERDICT + _FOR_USER + r" from (?P<addr>\S+)")  # old OpenSSH wrote no port
_MUST_PARSE = re.compile(r"(?:Accepted|Failed|Partial) [\w/-]+ for |(?:Invalid|Illegal) user ")
_INVALID = re.compile(r"(?:Invalid|Illegal) user (?P<user>.*) from (?P<addr>\S+)(?: port (?P<port>\d{1,5}))?")
# sshd's connection preamble: `invalid user X` / `authenticating user X` before login, `user X` after.
_PREAMBLE = r"(?:(?:invalid|authenticating) )?user (?P<user>.*) "
_TAIL = r"(?P<addr>\S+) port (?P<port>\d{1,5})"
_DISCONNECTED = (re.compile(r"Disconnected from " + _PREAMBLE + _TAIL), re.compile(r"Disconnected from " + _TAIL))
_CLOSED = (
    re.compile(r"Connection (?:closed|reset) by " + _PREAMBLE + _TAIL),
    re.compile(r"Connection (?:closed|reset) by (?P<addr>\S+)(?: port (?P<port>\d{1,5}))?"),
)
# An IPv6 address holds `:` but never `: `, which ends the address in the portless form.
_RECEIVED = re.compile(
    r"Received disconnect from (?P<addr>\S+)(?: port (?P<port>\d{1,5}):|:) ?(?P<code>\d{1,10}): ?(?P<reason>.*)"
)
# The reason can quote client-chosen names, so the user here is matched lazily (outcome unknown).
_DISCONNECTING = re.compile(
    r"Disconnecting (?:(?:invalid|authenticating) )?user (?P<user>.*?) " + _TAIL + r": (?P<reason>.*)"
)
_DISCONNECTING_OLD = re.compile(  # OpenSSH < 6.8 names no address here
    r"Disconnecting: (?P<reason>Too many authentication failures) for (?:(?:invalid|illegal) user )?(?P<user>.*)"
)
_REVERSE = re.compile(r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[(?P<addr>[^\]\s]+)\] failed.*")
_MAPS_TO = re.compile(r"Address (?P<addr>\S+) maps to (?P<domain>[^\s,]+), but this does not map back to the address.*")
# user= comes last and is client-chosen, so it is matched to the end and never searched for rhost=.
_PAM_MODULE = re.compile(
    r"pam_\w+\(sshd:auth\): authentication failure; logname=\S* uid=\d* euid=\d* tty=\S* "
    r"ruser=(?P<ruser>.*?) rhost=(?P<addr>\S*)(?: +user=(?P<user>.*))?"
)
_PAM_SSHD = re.compile(
    r"PAM: (?:[Aa]uthentication (?:failure|error)|User not known to the underlying authentication module) for "
    r"(?:(?:invalid|illegal) user )?(?P<user>.*) from (?P<addr>\S+)(?: via \S+)?"
)
_MAX_ATTEMPTS = re.compile(
    r"maximum authentication attempts exceeded " + _FOR_USER + r" from (?P<addr>\S+) port (?P<port>\d{1,5})(?: ssh\d?)?"
)
_NOT_ALLOWED = (
    re.compile(r"User (?P<user>.*) from (?P<addr>\S+) not allowed because (?P<reason>.+)"),
    re.compile(r"User (?P<user>.*) not allowed because (?P<reason>.+)"),
)
_ROOT_REFUSED = re.compile(r"ROOT LOGIN REFUSED FROM (?P<addr>\S+)(?: port (?P<port>\d{1,5}))?")
_REPEATED = re.compile(r"message repeated (?P<count>\d{1,18}) times: \[ ?(?P<inner>.*)\]")
_SOLARIS_TAG = re.compile(r"\[ID \d+ [\w.]+\] ")  # Solaris/illumos syslog prefix: [ID 800047 auth.info]
_SNIFF_JOURNAL = re.compile(rb'"SYSLOG_IDENTIFIER" ?: ?"sshd(?:-session|-auth)?"')


@dataclass(frozen=True, slots=True)
class Facts:
    """What one sshd message says, before it becomes an Event."""

    action: str
    outcome: Outcome
    user: str | None = None
    address: str | None = None
    port: int | None = None
    method: str | None = None
    mfa: bool | None = None
    reason: str | None = None
    code: str | None = None
    domain: str | None = None


def parse(record: RawRecord, ctx: ParseContext) -> list[Event]:
    """One syslog line or journald object -> 0..MAX_REPEATS authentication events."""
    text = decode_utf8(record.data)
    line = parse_envelope(text, ctx, record.received, PROGRAMS)
    if line is None:
        return []
    message, count = unwrap_repeat(line.message)
    facts = message_facts(message)
    if facts is None:
        return []
    key = record_key(record.origin, record.data)
    original = text if ctx.keep_original else None
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


def message_facts(message: str) -> Facts | None:
    """The facts of one sshd message (syslog header removed), None when it is no auth event."""
    message = _clean(message)
    head = message.partition(" ")[0]
    rules = _RULES.get(head) or (_PAM_RULES if head.startswith("pam_") else ())
    for pattern, build in rules:
        m = pattern.fullmatch(message)
        if m is not None:
            return build(m.groupdict())
    if _MUST_PARSE.match(message) is not None:
        raise ParseError("unrecognized_line", f"sshd '{head}' message without 'from <address> [port <n>]'")
    return None


def _clean(message: str) -> str:
    if message.startswith("[ID "):
        message = _SOLARIS_TAG.sub("", message, count=1)
    return message.removeprefix("error: ").rstrip().removesuffix(" [preauth]")


def _login(groups: dict[str, str | None]) -> Facts:
    verdict = groups["verdict"]
    return _facts(
        groups,
        "ssh_partial_auth" if verdict == "Partial" else "ssh_login",
        "failure" if verdict == "Failed" else "success",
        method=groups["method"],
        mfa=False if verdict == "Partial" else None,  # a first factor; the second comes as Accepted
        reason="invalid_user" if groups["invalid"] else None,
    )


def _pam_module(groups: dict[str, str | None]) -> Facts:
    # pam_unix writes user= only for known accounts; ruser is the login name sshd handed to PAM.
    return _facts({**groups, "user": groups["user"] or groups["ruser"] or None}, "ssh_pam_auth_failure", "failure")


def _facts(groups: dict[str, str | None], action: str, outcome: Outcome, **fixed) -> Facts:
    port = groups.get("port")
    values = {"user": groups.get("user"), "address": groups.get("addr") or None, "reason": groups.get("reason"),
              "code": groups.get("code"), "domain": groups.get("domain"), **fixed}
    if port is not None and int(port) > 65535:
        raise ParseError("invalid_field", f"port {port} is out of range")
    return Facts(action, outcome, port=int(port) if port is not None else None, **values)


Build = Callable[[dict[str, "str | None"]], Facts]


def _rule(action: str, outcome: Outcome, **fixed) -> Build:
    return partial(_facts, action=action, outcome=outcome, **fixed)


_DISCONNECT = _rule("ssh_disconnect", "unknown")
_LOGIN_RULES = ((_AUTH, _login), (_AUTH_NO_PORT, _login))
_INVALID_RULES = ((_INVALID, _rule("ssh_invalid_user", "failure", reason="invalid_user")),)
_PAM_RULES = ((_PAM_MODULE, _pam_module),)
# Dispatch on the message's first word, so a line is tried against one or two patterns, not all.
_RULES: dict[str, tuple[tuple[re.Pattern[str], Build], ...]] = {
    "Accepted": _LOGIN_RULES,
    "Failed": _LOGIN_RULES,
    "Partial": _LOGIN_RULES,
    "Invalid": _INVALID_RULES,
    "Illegal": _INVALID_RULES,
    "Disconnected": tuple((p, _DISCONNECT) for p in _DISCONNECTED),
    "Connection": tuple((p, _DISCONNECT) for p in _CLOSED),
    "Received": ((_RECEIVED, _DISCONNECT),),
    "Disconnecting": ((_DISCONNECTING, _DISCONNECT),),
    "Disconnecting:": ((_DISCONNECTING_OLD, _DISCONNECT),),
    "reverse": ((_REVERSE, _rule("ssh_break_in_attempt", "unknown")),),
    "Address": ((_MAPS_TO, _rule("ssh_break_in_attempt", "unknown")),),
    "PAM:": ((_PAM_SSHD, _rule("ssh_pam_auth_failure", "failure")),),
    "maximum": ((_MAX_ATTEMPTS, _rule("ssh_max_auth_attempts", "failure")),),
    "User": tuple((p, _rule("ssh_user_not_allowed", "failure")) for p in _NOT_ALLOWED),
    "ROOT": ((_ROOT_REFUSED, _rule("ssh_user_not_allowed", "failure", user="root", reason="root login refused")),),
}


@lru_cache(maxsize=65536)  # attackers and admins recur; ipaddress parsing is the costly part
def split_address(address: str) -> tuple[str | None, str | None]:
    """(canonical IP, None) for an IP address, (None, host name) for anything else sshd wrote."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # drop an IPv6 zone: ES ip fields reject it
    except ValueError:
        return None, address[:MAX_KEYWORD]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), None


def _to_event(f: Facts, line: LogLine, message: str, record: RawRecord, eid: str, original: str | None) -> Event:
    ip, name = split_address(f.address) if f.address else (None, None)
    domain = _keyword(f.domain) or name
    user = _keyword(f.user)
    host = _keyword(line.host)
    return Event(
        timestamp=line.timestamp,
        message=message,
        event=EventMeta(
            id=eid,
            category=["authentication"],
            type=_event_type(f),
            action=f.action,
            outcome=f.outcome,
            reason=_keyword(f.reason),
            code=f.code,
            dataset=DATASET,
            module="sshd",
            provider=line.program,
            created=record.received,
            original=original,
        ),
        source=Endpoint(ip=ip, port=f.port, address=_keyword(f.address), domain=domain) if f.address else None,
        user=User(name=user) if user is not None else None,
        host=Host(name=host) if host else None,
        process=Process(name=line.program, pid=line.pid),
        network=Network(protocol="ssh", transport="tcp"),
        related=Related(ip=[ip] if ip else [], user=[user] if user else [],
                        hosts=list(dict.fromkeys(h for h in (host, domain) if h))),
        secmon=Secmon(
            origin=record.origin,
            auth=Auth(method=f.method, mfa=f.mfa) if f.method is not None or f.mfa is not None else None,
        ),
    )


def _event_type(f: Facts) -> list[str]:
    if f.action == "ssh_login" and f.outcome == "success":
        return ["start"]
    return ["end"] if f.action == "ssh_disconnect" else ["info"]


def _keyword(value: str | None) -> str | None:
    # Client-chosen names can be longer than a keyword may be; sshd itself cuts them at 100.
    return value[:MAX_KEYWORD] if value is not None else None


def _sniff(first: bytes) -> bool:
    if first.lstrip().startswith(b"{"):
        return b'"__REALTIME_TIMESTAMP"' in first and _SNIFF_JOURNAL.search(first) is not None
    text = first.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        return parse_envelope(text, ParseContext(default_year=2000), EPOCH, PROGRAMS) is not None
    except ParseError:
        return False


NORMALIZER = Normalizer(id="sshd", title="OpenSSH server authentication (syslog, journald JSON)", framing="line",
                        parse=parse, sniff=_sniff)
