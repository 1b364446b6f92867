"""Labelled-line accuracy of the sshd normalizer on fail2ban's test log (`# failJSON:` labels).

    python -m bench.sshd_accuracy [PATH]      (default: ../shared/data/fail2ban_sshd_labelled/*.log)

Each log line follows a `# failJSON: {"match": ..., "host": ...}` label: whether fail2ban's sshd
filter, in its default mode, calls the line an authentication failure and from which host. A
labelled failure is *found* when the line gives an event with outcome failure whose source is that
host; *wrong source* when it names another address (the figure that must stay 0 but for lines
secmon reads differently on purpose, listed); *missed* otherwise: fail2ban's multi-line mode
judges some lines by earlier ones of the same sshd process (an `Accepted` after failures, a
`Connection closed` after `Too many authentication failures`), which a per-line parser does not
do by design. Failure events on lines labelled not a failure are listed too, marked with whether
they enter ssh_bruteforce's window as attempts (a per-connection count keeps a line of an already
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

from detectors.rules import _ssh
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
    """One log line with fail2ban's verdict on it."""

    line: str
    failure: bool
    host: str | None


def labelled_lines(path: Path) -> list[Labelled]:
    """The lines fail2ban's default mode judges (others need `mode: aggressive` or `ddos`)."""
    modes: list[str | None] = [DEFAULT_MODE]
    label: dict | None = None
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("# filterOptions:"):
            modes = [option.get("mode") for option in json.loads(raw.split(":", 1)[1])]
        elif raw.startswith("# failJSON:"):
            label = json.loads(raw.split(":", 1)[1])
        elif raw.strip() and not raw.startswith("#") and label is not None:
            if DEFAULT_MODE in modes and "== 'aggressive'" not in label.get("constraint", ""):
                found.append(Labelled(raw, bool(label["match"]), label.get("host")))
            label = None
    return found


def events_of(line: str) -> list[Event]:
    record = RawRecord(data=line.encode(), origin=Origin(source="sshd", file_id="bench", offset=0), received=RECEIVED)
    try:
        return parse(record, ParseOptions(default_year=2005))
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
    failures = [e for e in events_of(item.line) if e.event.outcome == "failure"]
    host = canonical(item.host or "")
    sources = {(e.source.ip or e.source.domain) for e in failures if e.source}
    if host in sources or any(e.source and e.source.address == item.host for e in failures):
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
    extra = [
        (item, e) for item in items if not item.failure for e in events_of(item.line) if e.event.outcome == "failure"
    ]
    counted = [
        (item, e)
        for item, e in extra
        if _ssh.source_address(e) and _ssh.is_failed_attempt(e) and _ssh.attempt_kind(e) != _ssh.PROBE
    ]
    print(
        f"failure events on lines labelled not a failure: {len(extra)}, of which {len(counted)} enter "
        f"ssh_bruteforce's window as attempts"
    )
    for item, e in extra:
        mark = "attempt" if (item, e) in counted else "not counted"
        print(f"    {e.event.action:<22} {mark:<12} {item.line[:100]}")


if __name__ == "__main__":
    main()
