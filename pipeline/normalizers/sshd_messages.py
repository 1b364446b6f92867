"""What one sshd message says (`Facts`), read so that the client cannot choose the address.

Most sshd messages hold a name the client sent (the login name; for some, a key id, hostbased
user/host or PAM ruser too) between words sshd writes itself. Each such message is a `Form`:
sshd's words before the name (`head`, matched at the start), what sshd writes right after it
(`sep`, e.g. ` from `) and sshd's own end of the line (`tail`, matched from a `sep` to the end).
The name ends at a `sep` after which the tail fits; the reading is taken from the right, since
sshd writes its `from <address> port <n>` last, after the name. Two more rules make that safe:

- what may follow `port <n> ssh2` is what sshd writes there for that method: nothing for password,
  keyboard-interactive, none and gssapi; `: KEYTYPE FINGERPRINT` (+ certificate or hostbased
  details) for publickey and hostbased; protocol 1's `: ruser NAME`. So `Failed password for
  invalid user x from 127.0.0.1 port 1 ssh2: from 10.10.1.2 port 2 ssh2` can only be the user
  `x from 127.0.0.1 port 1 ssh2:` connecting from 10.10.1.2;
- when the tail fits after more than one `sep` with different addresses (a certificate key id or
  a PAM ruser can hold a copy of sshd's tail, as a user name can) the line is ambiguous: the event
  is kept without source and user, its reason is `ambiguous_source` and every candidate address is
  in related.ip. A hostile name can so hide an address, never pick one. More than MAX_SEPARATORS
  separators after the head count as ambiguous too, which bounds the work per line.

Reading from the right also makes the length of a name irrelevant (sshd cuts names at 100
characters, journald senders need not) and keeps quotes and control bytes in it inert.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pipeline.normalizers.base import ParseError
from schemas.event import Outcome

MAX_SEPARATORS = 32  # sshd writes at most 1023 characters a message; more is hostile
AMBIGUOUS = "ambiguous_source"
# Methods sshd writes `: <key info>` after `ssh2` for; other methods end the line at `ssh2`.
KEY_METHODS = frozenset({"publickey", "hostbased"})


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
    candidates: tuple[str, ...] = ()  # addresses of an ambiguous line (address is None then)
    names: tuple[str, ...] = ()  # user names of an ambiguous line


Groups = dict[str, "str | None"]


@dataclass(frozen=True, slots=True)
class Form:
    """One message shape around a client-chosen name (see the module docstring)."""

    head: re.Pattern[str]
    sep: str
    tail: re.Pattern[str]
    valid: Callable[[Groups], bool] = lambda _groups: True


def read(form: Form, message: str) -> Groups | None:
    """The message's groups with `user` = the name, read from the right; None when it does not fit.

    An ambiguous line gives `user` None and `candidates`/`names` as NUL-joined lists."""
    head = form.head.match(message)
    if head is None:
        return None
    start, end, readings, fixed = head.end(), len(message), [], head.groupdict()
    if message.count(form.sep, start) > MAX_SEPARATORS:
        return {**fixed, "user": None, "addr": None, "candidates": "", "names": ""}
    while (pos := message.rfind(form.sep, start, end)) >= 0:
        m = form.tail.fullmatch(message, pos)
        if m is not None and form.valid(groups := {**fixed, **m.groupdict(), "user": message[start:pos]}):
            readings.append(groups)
        end = pos + len(form.sep) - 1  # separators may overlap (` ` in `Disconnected from user a  b`)
    if len({(r.get("addr"), r.get("port")) for r in readings}) > 1:
        return {
            **fixed,
            "user": None,
            "addr": None,
            "candidates": "\0".join(r["addr"] for r in readings if r.get("addr")),
            "names": "\0".join(r["user"] for r in readings),
        }
    return readings[0] if readings else None


_KEY = r"[A-Z][A-Z0-9-]*"  # RSA, ED25519, ECDSA-SK, RSA-CERT, ...
_KEY_INFO = re.compile(  # key type + fingerprint, or a certificate (id, serial, CA), then hostbased details
    rf"(?:{_KEY}(?: \S+)? ID .* \(serial \d+\) CA {_KEY} \S+|{_KEY} \S+)"
    r'(?:, client user ".*", client host ".*")?',
    re.DOTALL,
)


def _auth_info_ok(groups: Groups) -> bool:
    info = groups.get("info")
    if info is None:
        return True
    if groups.get("proto") == "ssh1" and info.startswith("ruser "):
        return True
    return groups["method"] in KEY_METHODS and _KEY_INFO.fullmatch(info) is not None


def _form(head: str, sep: str, tail: str, valid: Callable[[Groups], bool] | None = None) -> Form:
    extra = {"valid": valid} if valid else {}
    return Form(re.compile(head, re.DOTALL), sep, re.compile(tail, re.DOTALL), **extra)


_INVALID_PREFIX = r"(?:(?P<invalid>invalid|illegal) user )?"
_VERDICT_HEAD = r"(?P<verdict>Accepted|Failed|Partial) (?P<method>[\w-]+)(?:/[\w-]+)? for " + _INVALID_PREFIX
_LOGIN = _form(
    _VERDICT_HEAD,
    " from ",
    r" from (?P<addr>\S+) port (?P<port>\d{1,5})(?: (?P<proto>ssh\d?)(?:: (?P<info>.*))?)?",
    _auth_info_ok,
)
_LOGIN_NO_PORT = _form(_VERDICT_HEAD, " from ", r" from (?P<addr>\S+)")  # servers that write no port
_INVALID = _form(r"(?:Invalid|Illegal) user ", " from ", r" from (?P<addr>\S+)(?: port (?P<port>\d{1,5}))?")
_PAM_SSHD = _form(
    r"PAM: (?:[Aa]uthentication (?:failure|error)|User not known to the underlying authentication module) for "
    + _INVALID_PREFIX,
    " from ",
    r" from (?P<addr>\S+)(?: via \S+)?",
)
_MAX_ATTEMPTS = _form(
    r"maximum authentication attempts exceeded for " + _INVALID_PREFIX,
    " from ",
    r" from (?P<addr>\S+) port (?P<port>\d{1,5})(?: ssh\d?)?",
)
# The reasons sshd's allowed_user() gives with an address; without one the name is an account's.
_NOT_ALLOWED = _form(
    r"User ",
    " from ",
    r" from (?P<addr>\S+) not allowed because (?P<reason>not listed in "
    r"AllowUsers|listed in DenyUsers|not in any group|a group is listed in DenyGroups|"
    r"none of user's groups are listed in AllowGroups)",
)
_NOT_ALLOWED_LOCAL = re.compile(r"User (?P<user>.*) not allowed because (?P<reason>.+)", re.DOTALL)
# ruser is the name the application gave PAM (client-chosen); user= is written for known accounts.
_PAM_MODULE = _form(
    r"pam_\w+\(sshd:auth\): authentication failure; logname=\S* uid=\d* euid=\d* tty=\S* ruser=",
    " rhost=",
    r" rhost=(?P<addr>\S*)(?: +user=(?P<account>.*))?",
)
# sshd's connection preamble: `invalid user X` / `authenticating user X` before login, `user X` after.
_PREAMBLE = r"(?:(?P<pre>invalid|authenticating) )?user "
_TAIL = r" (?P<addr>\S+) port (?P<port>\d{1,5})"
_DISCONNECTED = _form(r"Disconnected from " + _PREAMBLE, " ", _TAIL)
_DISCONNECTED_ANON = re.compile(r"Disconnected from (?P<addr>\S+) port (?P<port>\d{1,5})")
_CLOSED = _form(r"Connection (?:closed|reset) by " + _PREAMBLE, " ", _TAIL)
_CLOSED_ANON = re.compile(r"Connection (?:closed|reset) by (?P<addr>\S+)(?: port (?P<port>\d{1,5}))?")
# The reason can quote client-chosen names (`Change of username ... (a,ssh-connection) -> (b,...)`).
_DISCONNECTING = _form(r"Disconnecting " + _PREAMBLE, " ", _TAIL + r": (?P<reason>.*)")
_DISCONNECTING_OLD = re.compile(  # OpenSSH < 6.8 names no address here
    r"Disconnecting: (?P<reason>Too many authentication failures)(?: for " + _INVALID_PREFIX + r"(?P<user>.*))?",
    re.DOTALL,
)
# The address comes first here, written by sshd; the reason after it is the client's own text.
_RECEIVED = re.compile(
    r"Received disconnect from (?P<addr>\S+)(?: port (?P<port>\d{1,5}):|:) ?(?P<code>\d{1,10}): ?(?P<reason>.*)",
    re.DOTALL,
)
_CLIENT_AUTH_FAILED = re.compile(r"(?:.*: )?Auth fail", re.DOTALL)  # JSch and its users: `...Exception: Auth fail`
# libwrap (tcpd) in sshd: `refused connect from [ident@]host [(address)]`; ident is the client's.
_REFUSED = re.compile(r"refused connect from (?:.*@)?(?P<host>[^\s@()]+)(?: \((?P<addr>[^\s()]+)\))?", re.DOTALL)
_REVERSE = re.compile(r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[(?P<addr>[^\]\s]+)\] failed.*")
_MAPS_TO = re.compile(r"Address (?P<addr>\S+) maps to (?P<domain>[^\s,]+), but this does not map back to the address.*")
_ROOT_REFUSED = re.compile(r"ROOT LOGIN REFUSED FROM (?P<addr>\S+)(?: port (?P<port>\d{1,5}))?")
_MUST_PARSE = re.compile(r"(?:Accepted|Failed|Partial) [\w/-]+ for |(?:Invalid|Illegal) user ")
_SOLARIS_TAG = re.compile(r"\[ID \d+ [\w.]+\] ")  # Solaris/illumos syslog prefix: [ID 800047 auth.info]


def message_facts(message: str) -> Facts | None:
    """The facts of one sshd message (syslog header removed), None when it is no auth event."""
    message = _clean(message)
    head = message.partition(" ")[0]
    rules = _RULES.get(head) or (_PAM_RULES if head.startswith("pam_") else ())
    for pattern, build in rules:
        groups = read(pattern, message) if isinstance(pattern, Form) else _fullmatch(pattern, message)
        if groups is not None:
            return build(groups)
    if _MUST_PARSE.match(message) is not None:
        raise ParseError("unrecognized_line", f"sshd '{head}' message without 'from <address> [port <n>]'")
    return None


def _fullmatch(pattern: re.Pattern[str], message: str) -> Groups | None:
    m = pattern.fullmatch(message)
    return m.groupdict() if m is not None else None


def _clean(message: str) -> str:
    if message.startswith("[ID "):
        message = _SOLARIS_TAG.sub("", message, count=1)
    return message.removeprefix("error: ").rstrip().removesuffix(" [preauth]")


def _login(groups: Groups) -> Facts:
    verdict = groups["verdict"]
    return _facts(
        groups,
        "ssh_partial_auth" if verdict == "Partial" else "ssh_login",
        "failure" if verdict == "Failed" else "success",
        method=groups["method"],
        mfa=False if verdict == "Partial" else None,  # a first factor; the second comes as Accepted
        reason="invalid_user" if groups.get("invalid") else None,
    )


def _pam_module(groups: Groups) -> Facts:
    # pam_unix writes user= only for known accounts; ruser is the login name sshd handed to PAM.
    user = groups.get("account") or groups["user"] or None
    return _facts({**groups, "user": user}, "ssh_pam_auth_failure", "failure")


def _disconnecting(groups: Groups) -> Facts:
    # sshd ends an authentication it will not let finish (invalid/authenticating user): a failure.
    return _facts(groups, "ssh_disconnect", "failure" if groups.get("pre") else "unknown")


def _received(groups: Groups) -> Facts:
    failed = _CLIENT_AUTH_FAILED.fullmatch(groups["reason"] or "") is not None
    return _facts(groups, "ssh_disconnect", "failure" if failed else "unknown")


def _refused(groups: Groups) -> Facts:
    host, addr = groups["host"], groups["addr"]
    # libwrap writes the peer's name (from DNS, so the client's choice) and, when it knows it, the address.
    return _facts(
        {"addr": addr or host, "domain": host if addr and host != addr else None},
        "ssh_connection_refused",
        "failure",
        reason="tcp_wrappers",
    )


def _facts(groups: Groups, action: str, outcome: Outcome, **fixed) -> Facts:
    if (candidates := groups.get("candidates")) is not None:
        return Facts(
            action,
            outcome,
            **{
                **fixed,
                "reason": AMBIGUOUS,
                "candidates": tuple(filter(None, candidates.split("\0"))),
                "names": tuple(dict.fromkeys(filter(None, (groups["names"] or "").split("\0")))),
            },
        )
    port = groups.get("port")
    values = {
        "user": groups.get("user"),
        "address": groups.get("addr") or None,
        "reason": groups.get("reason"),
        "code": groups.get("code"),
        "domain": groups.get("domain"),
        **fixed,
    }
    if port is not None and int(port) > 65535:
        raise ParseError("invalid_field", f"port {port} is out of range")
    return Facts(action, outcome, port=int(port) if port is not None else None, **values)


Build = Callable[[Groups], Facts]


def _rule(action: str, outcome: Outcome, **fixed) -> Build:
    return partial(_facts, action=action, outcome=outcome, **fixed)


_DISCONNECT = _rule("ssh_disconnect", "unknown")
_LOGIN_RULES = ((_LOGIN, _login), (_LOGIN_NO_PORT, _login))
_INVALID_RULES = ((_INVALID, _rule("ssh_invalid_user", "failure", reason="invalid_user")),)
_PAM_RULES = ((_PAM_MODULE, _pam_module),)
_NOT_ALLOWED_RULE = _rule("ssh_user_not_allowed", "failure")
# Dispatch on the message's first word, so a line is tried against one or two shapes, not all.
_RULES: dict[str, tuple[tuple[Form | re.Pattern[str], Build], ...]] = {
    "Accepted": _LOGIN_RULES,
    "Failed": _LOGIN_RULES,
    "Partial": _LOGIN_RULES,
    "Invalid": _INVALID_RULES,
    "Illegal": _INVALID_RULES,
    "Disconnected": ((_DISCONNECTED, _DISCONNECT), (_DISCONNECTED_ANON, _DISCONNECT)),
    "Connection": ((_CLOSED, _DISCONNECT), (_CLOSED_ANON, _DISCONNECT)),
    "Received": ((_RECEIVED, _received),),
    "Disconnecting": ((_DISCONNECTING, _disconnecting),),
    "Disconnecting:": ((_DISCONNECTING_OLD, _rule("ssh_disconnect", "failure")),),
    "refused": ((_REFUSED, _refused),),
    "reverse": ((_REVERSE, _rule("ssh_break_in_attempt", "unknown")),),
    "Address": ((_MAPS_TO, _rule("ssh_break_in_attempt", "unknown")),),
    "PAM:": ((_PAM_SSHD, _rule("ssh_pam_auth_failure", "failure")),),
    "maximum": ((_MAX_ATTEMPTS, _rule("ssh_max_auth_attempts", "failure")),),
    "User": ((_NOT_ALLOWED, _NOT_ALLOWED_RULE), (_NOT_ALLOWED_LOCAL, _NOT_ALLOWED_RULE)),
    "ROOT": ((_ROOT_REFUSED, _rule("ssh_user_not_allowed", "failure", user="root", reason="root login refused")),),
}
