"""Labelled-line accuracy of the sshd normalizer on fail2ban's test log (`# failJSON:` labels).

    python -m bench.sshd_accuracy [PATH]      (default: ../shared/data/fail2ban_sshd_labelled/*.log)

Each log line follows a `# failJSON: {"match": ..., "host": ...}` label: whether fail2ban's sshd
filter, in its default mode, calls the line an authentication failure and from which host. A
labelled failure is *found* when the line gives an event with outcome failure whose source is that
host (or any failure where the label names none); *wrong source* when it names another address (the figure that must stay 0 but for lines
secmon reads differently on purpose, listed); *missed* otherwise. Lines are read in file order by one
parser, as a log is, so lines of one sshd process fill in each other's gaps
(pipeline/normalizers/sshd_sessions.py), as fail2ban's multi-line mode does. Failure events on lines labelled not a failure are listed too, marked with whether
they add an attempt to the brute-force count (a per-connection count keeps a line of an already
counted connection from adding one). The data is GPL-2.0 and read in place, never copied into
the project. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from detectors.identity import attempt_of
from detectors.rules import _attempts
from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.sshd import parse
from schemas.event import Event, Origin

DEFAULT = Path(__file__).parents[2] / "shared" / "data" / "fail2ban_sshd_labelled"
RECEIVED = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_MODE = None  # fail2ban's `filterOptions` entry without a mode
# Lines secmon reads differently from the label on purpose (see pipeline/normalizers/sshd_messages.py).
DELIBERATE = {
    "ssh2: from 10.10.1.2 port 55555 ssh2": "sshd writes nothing after `ssh2` on a password line: the user is `test from 127.0.0.1 port 58946 ssh2:` "
    "and the client 10.10.1.2; reading 127.0.0.1 is the spoof",
}


@dataclass(frozen=True)
class Labelled:
    """One log line with fail2ban's verdict on it, and the events secmon read from it."""

    line: str
    failure: bool
    host: str | None
    events: tuple[Event, ...]


def labelled_lines(path: Path) -> list[Labelled]:
    """The lines fail2ban's default mode judges (others need `mode: aggressive` or `ddos`), read
    in file order by one parser, as a log is: lines of one sshd pid fill in each other's gaps."""
    options = ParseOptions(default_year=2005)
    modes: list[str | None] = [DEFAULT_MODE]
    label: dict | None = None
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("# filterOptions:"):
            modes = [option.get("mode") for option in json.loads(raw.split(":", 1)[1])]
        elif raw.startswith("# failJSON:"):
            label = json.loads(raw.split(":", 1)[1])
        elif raw.strip() and not raw.startswith("#"):
            events = tuple(events_of(raw, options))
            judged = DEFAULT_MODE in modes and "== 'aggressive'" not in (label or {}).get("constraint", "")
            if label is not None and judged:
                found.append(Labelled(raw, bool(label["match"]), label.get("host"), events))
            label = None
    return found


def events_of(line: str, options: ParseOptions) -> list[Event]:
    record = RawRecord(data=line.encode(), origin=Origin(source="sshd", file_id="bench", offset=0), received=RECEIVED)
    try:
        return parse(record, options)
    except ParseError:
        return []


def canonical(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


MISSED = (
    "wrong source",
    "missed: a failure, its address only on another line",
    "missed: the line itself reports no failure",
)


def verdict(item: Labelled) -> str:
    """found, or which of MISSED."""
    failures = [e for e in item.events if e.event.outcome == "failure"]
    host = canonical(item.host or "")
    sources = {(e.source.ip or e.source.domain) for e in failures if e.source}
    if (
        (item.host is None and failures)
        or host in sources
        or any(e.source and e.source.address == item.host for e in failures)
    ):
        return "found"
    if sources:
        return MISSED[0]
    return MISSED[1] if failures else MISSED[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    args = parser.parse_args()
    files = sorted(args.path.glob("*.log")) if args.path.is_dir() else [args.path]
    items = [item for path in files for item in labelled_lines(path)]
    failures = [item for item in items if item.failure]
    verdicts = {id(item): verdict(item) for item in failures}
    counts = Counter(verdicts.values())
    print(f"{len(items)} labelled lines in fail2ban's default mode, {len(failures)} labelled failures")
    print(f"found {counts['found']} of {len(failures)} ({counts['found'] / len(failures):.0%})")
    for name in MISSED:
        print(f"  {name}: {counts[name]}")
    for item in failures:
        if verdicts[id(item)] != "found":
            why = next((why for text, why in DELIBERATE.items() if text in item.line), "")
            print(f"    {verdicts[id(item)][:24]:<24} {item.line[:110]}")
            if why:
                print(f"      deliberate: {why}")
    extra = [(item, e) for item in items if not item.failure for e in item.events if e.event.outcome == "failure"]
    adds = adding_attempts(items)
    counted = [(item, e) for item, e in extra if id(e) in adds]
    print(
        f"failure events on lines labelled not a failure: {len(extra)}, of which {len(counted)} add an attempt "
        f"to the brute-force count (signin_bruteforce_ip: one attempt's lines count once per connection)"
    )
    for item, e in extra:
        mark = "attempt" if (item, e) in counted else "not counted"
        print(f"    {e.event.action:<22} {mark:<12} {item.line[:100]}")


def adding_attempts(items: list[Labelled]) -> set[int]:
    """`id()`s of the events (bench lines share one event id) that raise their connection's attempt count (detectors/rules/_attempts.py)."""
    per_session: dict[tuple[str | None, str], list[str]] = {}
    adds = set()
    for item in items:
        for event in item.events:
            login = attempt_of(event)
            if login is None or login.success or login.client is None:
                continue
            before = per_session.setdefault((login.host, login.session), [])
            if _attempts.attempts([*before, _attempts.item(login)]) > _attempts.attempts(before):
                adds.add(id(event))
            before.append(_attempts.item(login))
    return adds


if __name__ == "__main__":
    main()
