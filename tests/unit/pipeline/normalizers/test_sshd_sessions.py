"""sshd lines of one pid fill in each other's gaps, in a table bounded by count and age."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bench.sshd_accuracy import labelled_lines, verdict
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.sshd import parse
from pipeline.normalizers.sshd_messages import message_facts
from pipeline.normalizers.sshd_sessions import SessionTable
from schemas.event import Event, Origin

LABELLED = Path(__file__).parents[3] / "data" / "sshd_labelled" / "sessions.log"
RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def read(lines: list[str], options: ParseOptions | None = None) -> list[list[Event]]:
    """The events of each line, read in order by one parser."""
    options = options or ParseOptions(default_year=2026)
    out = []
    for n, line in enumerate(lines):
        origin = Origin(source="sshd", file_id="f1", offset=n)
        out.append(parse(RawRecord(data=line.encode(), origin=origin, received=RECEIVED), options))
    return out


def test_every_labelled_line_of_our_own_fixture_is_read_as_labelled():
    items = labelled_lines(LABELLED)
    assert len(items) == 18
    assert {item.line: verdict(item) for item in items if item.failure} == {
        item.line: "found" for item in items if item.failure
    }
    # failures on lines labelled none: a refusal whose client only a later line names, a key probe
    wrong = [i.line[35:60] for i in items if not i.failure for e in i.events if e.event.outcome == "failure"]
    assert wrong == ["User oracle not allowed b", "Failed publickey for ci f"]


def test_a_line_without_an_address_takes_its_connections():
    (_, (event,)) = read(
        [
            "Dec  1 03:10:00 edge-1 sshd[7001]: Failed password for admin from 198.51.100.20 port 50111 ssh2",
            "Dec  1 03:10:04 edge-1 sshd[7001]: Disconnecting: Too many authentication failures [preauth]",
        ]
    )
    assert (event.source.ip, event.source.port, event.user.name) == ("198.51.100.20", 50111, "admin")
    assert event.event.outcome == "failure"


def test_another_host_or_pid_is_another_connection():
    lines = [
        "Dec  1 03:10:00 edge-1 sshd[7001]: Failed password for admin from 198.51.100.20 port 50111 ssh2",
        "Dec  1 03:10:04 edge-2 sshd[7001]: Disconnecting: Too many authentication failures [preauth]",
        "Dec  1 03:10:04 edge-1 sshd[7002]: Disconnecting: Too many authentication failures [preauth]",
    ]
    _, (other_host,), (other_pid,) = read(lines)
    assert (other_host.source, other_pid.source) == (None, None)


def test_a_close_after_a_login_that_worked_stays_a_plain_disconnect():
    *_, (closed,) = read(
        [
            "Dec  1 03:13:00 edge-1 sshd[7004]: Failed password for ci from 192.0.2.80 port 41000 ssh2",
            "Dec  1 03:13:01 edge-1 sshd[7004]: Accepted password for ci from 192.0.2.80 port 41000 ssh2",
            "Dec  1 03:13:30 edge-1 sshd[7004]: Connection closed by 192.0.2.80 port 41000",
        ]
    )
    assert (closed.event.outcome, closed.event.reason) == ("unknown", None)


def test_key_probes_alone_do_not_make_the_close_a_failure():
    *_, (plain,) = read(
        [
            "Dec  1 03:13:00 edge-1 sshd[7004]: Failed publickey for ci from 192.0.2.80 port 41000 ssh2: "
            "RSA SHA256:AAAAexampleexampleexampleexampleexample0001",
            "Dec  1 03:13:30 edge-1 sshd[7004]: Connection closed by 192.0.2.80 port 41000",
        ]
    )
    assert plain.event.outcome == "unknown"


def test_a_reused_pid_or_an_old_entry_starts_over():
    ((_,), (reused,), (late,)) = read(
        [
            "Dec  1 03:14:00 edge-1 sshd[7005]: Failed password for test from 2001:db8::77 port 60001 ssh2",
            "Dec  1 03:20:00 edge-1 sshd[7005]: Connection closed by 192.0.2.10 port 50500",
            "Dec  1 04:20:00 edge-1 sshd[7005]: Disconnecting: Too many authentication failures [preauth]",
        ]
    )
    assert (reused.source.ip, reused.event.outcome) == ("192.0.2.10", "unknown")
    assert late.source is None  # an hour later: the entry expired


def test_the_table_keeps_at_most_its_cap_least_recent_dropped():
    table = SessionTable(max_sessions=3, ttl_seconds=600)
    facts = message_facts("Failed password for x from 192.0.2.1 port 1 ssh2")
    assert facts is not None
    for pid in range(10):
        table.pair(("h", pid), facts, 100.0 + pid)
    assert len(table) == 3
    missing = message_facts("Disconnecting: Too many authentication failures")
    assert missing is not None
    assert table.pair(("h", 0), missing, 200.0).address is None  # dropped
    assert table.pair(("h", 9), missing, 200.0).address == "192.0.2.1"  # kept


def test_one_parse_options_per_parser_keeps_its_own_table():
    first, second = ParseOptions(default_year=2026), ParseOptions(default_year=2026)
    read(["Dec  1 03:10:00 edge-1 sshd[7001]: Failed password for a from 198.51.100.20 port 5 ssh2"], first)
    ((event,),) = read(["Dec  1 03:10:04 edge-1 sshd[7001]: Disconnecting: Too many authentication failures"], second)
    assert event.source is None
