"""Shared logic of the detectors that count authentication attempts over every login source.

Brute force per source address (`signin_bruteforce_ip`), per account (`signin_bruteforce_user`)
and a success after failures (`signin_success_after_failures`) ask the same question of app
sign-ins, sshd, AWS console/STS logins and Okta sign-ins; each reads `attempt_of(event)`
(detectors/identity.py) and differs from the others only in its key and its threshold.

Keys are per source where the account lives in one place: an app sign-in keeps the key it always
had (the IP, the user name), so its alert ids stay; an SSH attempt is keyed on its server
(`ssh|<host>|...`: root on two servers is two accounts, and a client guessing on one server is
that server's finding), AWS on its account (`aws|<account>|...`), an IdP on its org
(`<source>|<org>|...`). The same user name in two sources never shares state.

What one attempt writes is counted once: a window item is `<event id> <session> <kind> <client>
<user>` and `attempts()` takes, per session (an sshd connection: its pid, else its port; any
other login is its own session), the largest count among its kinds. So `Invalid user admin` +
`Failed password for invalid user admin` + PAM's failure of the same pid are one attempt, four
Failed lines + `maximum authentication attempts exceeded` four. Key probes (k) count only on a
session sshd cut off for failing (x, d): a client offering three keys before the right one is
not guessing.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict, Field

from detectors import windows
from detectors.base import Entity, Finding, State
from detectors.identity import CUT_OFF, PROBE, Login, LoginSource, attempt_of
from detectors.rules._ssh import source_endpoint
from schemas.alert import Severity
from schemas.ecs import Cloud, CloudAccount
from schemas.event import Event, Host, User

DATASETS = ("app.signin", "ssh.auth", "aws.cloudtrail", "okta.system")
ALL_SOURCES: list[LoginSource] = ["app", "ssh", "aws_console", "aws_sts", "okta"]
# What an attempt is called in messages, per source: (one, many).
NOUNS: dict[LoginSource, tuple[str, str]] = {
    "app": ("sign-in", "sign-ins"),
    "ssh": ("SSH login", "SSH authentications"),
    "aws_console": ("AWS login", "AWS logins"),
    "aws_sts": ("AWS login", "AWS logins"),
    "okta": ("Okta sign-in", "Okta sign-ins"),
}
COUNTED_FROM = 16  # window items from which `add` keeps counts beside them
# Internet-facing sshd and the AWS console see guessing daily: loud only when it works.
QUIETER: dict[LoginSource, Severity] = {"ssh": "medium", "aws_console": "medium", "aws_sts": "medium"}


def sources_but(*left_out: LoginSource) -> list[LoginSource]:
    """A `sources` default: every login source but these."""
    return [s for s in ALL_SOURCES if s not in left_out]


def for_aws(threshold: int) -> dict[LoginSource, int]:
    """A `threshold_by_source` default: this threshold for AWS console and STS logins."""
    return {"aws_console": threshold, "aws_sts": threshold}


class CountingParams(BaseModel):
    """Window and the login sources read (shared by the counting detectors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")
    sources: list[LoginSource] = Field(
        default_factory=lambda: list(ALL_SOURCES), description="Login sources read (detectors/identity.py)."
    )
    aws_calls: list[str] = Field(
        ["ConsoleLogin", "GetSessionToken", "GetFederationToken"],
        description="CloudTrail eventNames read as AWS logins (AssumeRole* may be added: services "
        "retrying a role they may not assume make their denials routine).",
    )


def read(event: Event, params: CountingParams) -> Login | None:
    """The event as an attempt of a source these params read, else None."""
    login = attempt_of(event)
    if login is None or login.source not in params.sources:
        return None
    if login.source in ("aws_console", "aws_sts") and event.event.action not in params.aws_calls:
        return None
    return login


def _prefix(login: Login) -> str:
    if login.source == "ssh":
        return f"ssh|{(login.host or '-').lower()}"
    return f"aws|{login.scope}" if login.source in ("aws_console", "aws_sts") else f"{login.source}|{login.scope}"


def ip_key(login: Login) -> str | None:
    """The source-address entity: the IP for the app (as it always was), else per server/account."""
    if login.source == "app":
        return login.ip or None
    return f"{_prefix(login)}|{login.client}" if login.client else None


def user_key(login: Login) -> str | None:
    """The account entity: the user name for the app (as it always was), else per server/account."""
    if not login.user:
        return None
    return login.user if login.source == "app" else f"{_prefix(login)}|{login.user}"


def item(login: Login) -> str:
    """Window item of one attempt line (the user last: client-chosen names can hold spaces)."""
    return f"{login.event_id} {login.session} {login.kind} {login.client or '-'} {login.user or ''}"


def attempts(items: list[str]) -> int:
    """Attempts behind window items: per session, the largest count among its kinds (probes only
    where sshd cut the session off). Order-free: a late line changes nothing else; idempotent: an
    event delivered twice (at-least-once, a replay after a crash) is one item, counted once."""
    per_kind = Counter(tuple(i.split(" ", 3)[1:3]) for i in set(items))
    cut_off = {session for session, kind in per_kind if kind in CUT_OFF}
    best: dict[str, int] = {}
    for (session, kind), n in per_kind.items():
        if kind != PROBE or session in cut_off:
            best[session] = max(best.get(session, 0), n)
    return sum(best.values())


def counted(state: State) -> int:
    """`attempts()` of the window of a state `add` wrote: O(1) once it keeps counts."""
    counts = state.get("n")
    return int(counts["t"]) if counts is not None else attempts(windows.items(state))


def client_count(state: State) -> int:
    """How many distinct client addresses the window of a state `add` wrote holds."""
    counts = state.get("n")
    clients = counts["c"] if counts is not None else {i.split(" ", 4)[3] for i in windows.items(state)}
    return len(clients) - ("-" in clients)


def _best(kinds: dict[str, int]) -> int:
    """A session's attempts (see `attempts`) from its distinct items per kind."""
    cut_off = any(kind in CUT_OFF for kind in kinds)
    return max((n for kind, n in kinds.items() if kind != PROBE or cut_off), default=0)


def _recount(counts: State, item: str, delta: int) -> None:
    """Fold one distinct window item in (+1) or out (-1) of the counts `add` keeps."""
    _, session, kind, client, _ = item.split(" ", 4)
    windows.count(counts["c"], client, delta)
    sessions = counts["s"]
    held = sessions.get(session)
    if held is None and delta < 0:  # nothing counted to take out (kept counts and window disagree)
        return
    if held is None or (len(held) == 1 and held.get(kind) == 1 and delta < 0):
        # a session's first or last item (an app or AWS login is a session of one item): its
        # attempts are that item's, 0 for a probe (a session of one probe was not cut off)
        if held is None:
            sessions[session] = {kind: 1}
        else:
            del sessions[session]
        if kind != PROBE:
            counts["t"] += delta
        return
    kinds = dict(held)  # copied: the counts of the state handed in stay as they were
    before = _best(kinds)
    windows.count(kinds, kind, delta)
    sessions[session] = kinds
    counts["t"] += _best(kinds) - before


def users(items: list[str]) -> set[str]:
    """Distinct user names among window items."""
    return {i.split(" ", 4)[4] for i in items} - {""}


def clients(items: list[str]) -> list[str]:
    """Distinct client addresses among window items, sorted."""
    return sorted({i.split(" ", 4)[3] for i in items} - {"-"})


def event_ids(items: list[str]) -> tuple[str, ...]:
    """The event ids of window items (an event delivered twice once)."""
    return tuple(dict.fromkeys(i.split(" ", 1)[0] for i in items))


def entity(event: Event, login: Login, with_user: bool, with_source: bool) -> Entity:
    """Alert entity: the account and/or the client, with where the account lives."""
    aws = login.source in ("aws_console", "aws_sts")
    return Entity(
        user=User(name=login.user) if with_user and login.user else None,
        source=source_endpoint(event) if with_source else None,
        host=Host(name=login.host) if login.host else None,
        organization=event.organization if with_user and not aws else None,
        cloud=Cloud(provider="aws", account=CloudAccount(id=login.scope)) if aws else None,
    )


def add(state: State | None, login: Login, params: CountingParams) -> State:
    """The window with this attempt added; from COUNTED_FROM items on, with its counts kept up to
    date (`counted`, `client_count`): O(log n) per attempt instead of recounting up to MAX_ITEMS
    items, while a small window (most of them) is recounted, cheaper than keeping its counts.

    The counts sit beside the window under "n": {"t": attempts, "s": {session: {kind: distinct
    items}}, "c": {client: distinct items}}. A large window without them (a small one grown, or
    one written before they were kept) has them counted once from its window."""
    window = state["w"] if state else []
    counts = state.get("n") if state else None
    it = item(login)
    if counts is None and len(window) + 1 < COUNTED_FROM:
        return {"w": windows.slide(window, login.ts, it, params.window_seconds)[0]}
    if counts is None:
        counts = _count_all(window)
    counts = {"t": counts["t"], "s": dict(counts["s"]), "c": dict(counts["c"])}
    window, new, gone = windows.slide(window, login.ts, it, params.window_seconds)
    if new:
        _recount(counts, it, 1)
    for left in gone:
        _recount(counts, left, -1)
    return {"w": window, "n": counts}


def _count_all(window: list) -> State:
    counts: State = {"t": 0, "s": {}, "c": {}}
    for distinct in dict.fromkeys(e[1] for e in window):
        _recount(counts, distinct, 1)
    return counts


def burst(event: Event, login: Login, items: list[str], message: str, per_user: bool) -> Finding:
    """The finding of a burst of attempts: per account (`per_user`) or per client address."""
    return Finding(
        message=message,
        entity=entity(event, login, with_user=per_user, with_source=not per_user),
        timestamp=event.timestamp,
        event_ids=event_ids(items),
        datasets=(event.event.dataset,),
        severity=QUIETER.get(login.source),
    )


def where(login: Login) -> str:
    """` against <host>` / ` (account <id>)` / ``: where the attempts went, for messages."""
    if login.source == "ssh":
        return f" against {login.host or 'an unnamed host'}"
    return f" (account {login.scope})" if login.source in ("aws_console", "aws_sts") else ""


def sample(names: set[str] | list[str], limit: int = 5) -> str:
    """`a, b, c +2 more`: a few names for a message, sorted so the text is stable."""
    shown = sorted(repr(n) if n != n.strip() else n for n in names)
    more = f" +{len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
