"""One shape for every login, whatever wrote it: app sign-ins, sshd, AWS console and STS calls.

The identity detectors (brute force, travel, first seen, success after failures) ask the same
questions of every login source: who, from where, did it work, with which device and factor. Each
source spells that differently (`ssh_login` with a method, `ConsoleLogin` with `MFAUsed`, an
`AssumeRole` denied with an `errorCode`); `login_of` reads an ECS event into a `Login` once, so a
detector is written once over `Login` and only says which `source`s it reads and how it keys them.

`source` says which login system the attempt went to; `scope` is where the account lives in that
system: the app workspace, the SSH host group (host names grouped by `host_group`), the AWS
account, the Okta org (`organization.id`, `-` when the log does not say). The same user name in
two scopes is two accounts (root on two servers, `alice` in two AWS accounts). Adding a login
source is one more branch here (Okta's System Log: `user.session.start`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from typing import Literal

from detectors.memo import per_event
from schemas.ecs import AutonomousSystem, Geo
from schemas.event import Event

LoginSource = Literal["app", "ssh", "aws_console", "aws_sts", "okta"]
NO_SCOPE = "-"
# STS calls that hand out credentials to a caller: a denied one is a failed login to AWS.
STS_LOGINS = frozenset(
    {"GetSessionToken", "GetFederationToken", "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}
)
OKTA_LOGIN = "user.session.start"  # Okta System Log: a sign-in to the Okta org
SSH_LOGIN = "ssh_login"  # Accepted/Failed lines; a Partial line is half a login, not one
# sshd's other lines that report a failed attempt, with the letter that groups them per
# connection (see `attempt_of`); f is a Failed line, k a key or `none` probe of a valid account.
ATTEMPT_KINDS = {
    "ssh_invalid_user": "i",
    "ssh_max_auth_attempts": "x",
    "ssh_disconnect": "d",
    "ssh_pam_auth_failure": "p",
}
PROBE, CUT_OFF, CLOSED = "k", frozenset({"x", "d"}), "c"  # CUT_OFF: sshd ended the connection for failing
PROBE_METHODS = frozenset({"publickey", "hostbased", "none"})  # tried in turn before the one that works


@dataclass(frozen=True, slots=True)
class Login:
    """One authentication attempt in the shape every identity detector reads."""

    source: LoginSource
    scope: str  # workspace, SSH host (group: see `scoped`), AWS account; NO_SCOPE when unknown
    user: str | None  # None when the source hides it (CloudTrail's failed login of an unknown name)
    success: bool
    ts: float  # event time, epoch seconds
    event_id: str
    ip: str | None
    geo: Geo | None
    as_: AutonomousSystem | None
    device: str | None  # `type/client/os` of a User-Agent, else None
    mfa: bool | None
    host: str | None  # the SSH server the line came from
    # The connection the attempt belongs to, for counting its lines once (`attempt_of`): an sshd
    # pid (else its client port), else the event itself: one app or AWS login is one attempt.
    session: str = ""
    kind: str = "f"  # which of its connection's lines this is (ATTEMPT_KINDS); f: a login verdict
    client: str | None = None  # source.ip, else the host name sshd wrote (UseDNS)

    def scoped(self, groups: dict[str, list[str]]) -> Login:
        """The same login with an SSH host replaced by its group (see `host_group`); the login
        itself when that is its scope already (an unlisted host: a copy per call was most of it)."""
        if self.source != "ssh" or self.host is None:
            return self
        group = host_group(self.host, groups)
        return self if group == self.scope else replace(self, scope=group)


def host_group(host: str, groups: dict[str, list[str]]) -> str:
    """The first group (in configuration order) with a glob matching `host` (case-insensitive,
    like DNS), else the host itself: an unlisted server is a group of one."""
    name = host.lower()
    for group, patterns in groups.items():
        if any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns):
            return group
    return name


@per_event
def login_of(event: Event) -> Login | None:
    """The event as a login, or None when it is no completed login attempt."""
    source = _source(event)
    if source is None or event.event.outcome not in ("success", "failure"):
        return None
    return _login(event, source, "f")


@per_event
def attempt_of(event: Event) -> Login | None:
    """The event as one line of an authentication attempt, for the detectors that count them:
    every login, plus sshd's failure lines that are no Failed line (Invalid user, max attempts,
    failed disconnects, PAM failures of a known pid). One attempt can write several such lines on
    its connection; `session` and `kind` let `detectors/rules/_attempts.py` count it once."""
    login = login_of(event)
    if login is not None:
        if login.source == "ssh" and not login.success and _is_probe(event):
            return replace(login, kind=PROBE)
        return login
    kind = ATTEMPT_KINDS.get(event.event.action or "") if event.event.dataset == "ssh.auth" else None
    if kind is None or event.event.outcome != "failure":
        return None
    pid = event.process.pid if event.process else None
    if kind == "p" and pid is None:
        return None  # a PAM line repeats a Failed line that only its pid could pair it with
    if kind == "d" and event.event.reason == "after_failure":
        kind = CLOSED  # a close after failures (pipeline/normalizers/sshd_sessions.py): not a cut-off
    return _login(event, "ssh", kind)


def _login(event: Event, source: LoginSource, kind: str) -> Login:
    user = event.user.name if event.user and event.user.name else None
    src = event.source
    auth = event.secmon.auth
    host = event.host.name if source == "ssh" and event.host and event.host.name else None
    return Login(
        source=source,
        scope=_scope(event, source, host),
        user=user,
        success=event.event.outcome == "success",
        ts=event.timestamp.timestamp(),
        event_id=event.event.id,
        ip=src.ip if src else None,
        geo=src.geo if src else None,
        as_=src.as_ if src else None,
        device=device_of(event),
        mfa=auth.mfa if auth else None,
        host=host,
        session=_session(event, source),
        kind=kind,
        client=(src.ip or src.domain or None) if src else None,
    )


def _session(event: Event, source: LoginSource) -> str:
    if source == "ssh":
        pid = event.process.pid if event.process else None
        port = event.source.port if event.source else None
        if pid is not None:
            return f"p{pid}"
        if port is not None:
            return f"c{port}"  # old OpenSSH wrote no pid: the client port names the connection
    return f"e{event.event.id}"


def _is_probe(event: Event) -> bool:
    method = event.secmon.auth.method if event.secmon.auth else None
    return method in PROBE_METHODS and event.event.reason != "invalid_user"


def _source(event: Event) -> LoginSource | None:
    dataset, action = event.event.dataset, event.event.action
    if dataset == "app.signin":
        return "app"
    if dataset == "ssh.auth":
        return "ssh" if action == SSH_LOGIN else None
    if dataset == "okta.system":
        return "okta" if action == OKTA_LOGIN else None  # a factor (auth_via_mfa) is half a login
    if dataset == "aws.cloudtrail":
        if action == "ConsoleLogin":
            return "aws_console"
        return "aws_sts" if action in STS_LOGINS else None
    return None


def _scope(event: Event, source: LoginSource, host: str | None) -> str:
    if source in ("app", "okta"):  # an Okta log is one org's: organization.id when shipped with one
        org = event.organization.id if event.organization else None
        return org or NO_SCOPE
    if source == "ssh":
        return host.lower() if host else NO_SCOPE
    account = event.cloud.account.id if event.cloud and event.cloud.account else None
    return account or NO_SCOPE


@per_event
def device_of(event: Event) -> str | None:
    """`type/client/os` of the client, or None when the User-Agent named neither client nor OS
    (versions left out, so browser updates are not new devices)."""
    ua = event.user_agent
    client = ua.name if ua else None
    os_name = ua.os.name if ua and ua.os else None
    if not client and not os_name:
        return None
    kind = event.secmon.device.type if event.secmon.device else "unknown"
    return f"{kind}/{client or '-'}/{os_name or '-'}"


@per_event
def identity_key(event: Event) -> str | None:
    """The account of a successful app sign-in, AWS console login or Okta sign-in, for the
    per-user identity detectors that read them: the user name for the app (as it always was, so
    alert ids stay), `aws|<account>|<user>` for the console (IAM names repeat across accounts and
    may equal an app login name), `okta|<org>|<user>` for Okta."""
    login = login_of(event)
    if login is None or not login.success or not login.user:
        return None
    if login.source == "app":
        return login.user
    if login.source == "okta":
        return f"okta|{login.scope}|{login.user}"
    return f"aws|{login.scope}|{login.user}" if login.source == "aws_console" else None
