"""sshd: syslog and journald lines -> ssh.auth events (behaviours worth naming; the rest is golden)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.normalizers.app_signin import NORMALIZER as APP_SIGNIN
from pipeline.normalizers import registry
from pipeline.normalizers.base import ParseContext, ParseError, RawRecord
from pipeline.normalizers.sshd import MAX_REPEATS, NORMALIZER, parse
from pipeline.process import process_record
from pipeline.readers import head, read_records
from schemas.event import Event, Origin

DATA = Path(__file__).parents[3] / "data" / "normalizers" / "sshd"
HEADER = "Nov 30 08:01:02 bastion-1 sshd[2301]: "
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def events(line: str | bytes, received: datetime = RECEIVED, **ctx) -> list[Event]:
    """The events of one line read at a fixed file position."""
    data = line.encode() if isinstance(line, str) else line
    record = RawRecord(data=data, origin=Origin(source="sshd", file_id="f1", offset=0), received=received)
    return parse(record, ParseContext(**ctx))


def one(message: str, **ctx) -> Event:
    """The single event of one sshd message behind a fixed RFC 3164 header."""
    (event,) = events(HEADER + message, **ctx)
    return event


def error(line: str | bytes) -> ParseError:
    with pytest.raises(ParseError) as exc:
        events(line)
    return exc.value


def journal(message: str | list[int], **fields: str) -> str:
    """A `journalctl -o json` line from sshd."""
    entry = {"__REALTIME_TIMESTAMP": "1796025662123456", "_HOSTNAME": "bastion-4", "_PID": "5100",
             "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": message, **fields}
    return json.dumps(entry, separators=(",", ":"))


def test_message_repeated_yields_one_event_per_repeat_with_distinct_ids(tmp_path: Path):
    log = tmp_path / "auth.log"
    log.write_text(HEADER + "message repeated 3 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]\n")
    (record,) = read_records(str(log), NORMALIZER, 1024 * 1024)
    result = process_record(record, NORMALIZER, [], ParseContext(default_year=2026))
    assert len(result.events) == 3 and len({e.event.id for e in result.events}) == 3
    docs = [e.to_doc() for e in result.events]
    for doc in docs:
        del doc["event"]["id"]
    assert docs[0] == docs[1] == docs[2]
    assert (docs[0]["user"]["name"], docs[0]["source"]["ip"], docs[0]["event"]["outcome"]) == ("root", "1.2.3.4", "failure")


def test_repeat_count_is_capped_so_one_line_cannot_fan_out_without_bound():
    line = HEADER + "message repeated 999999999 times: [ Invalid user a from 1.2.3.4 port 22]"
    assert len(events(line)) == MAX_REPEATS


def test_ids_are_stable_across_reads_and_differ_per_line(tmp_path: Path):
    log = tmp_path / "auth.log"
    log.write_text(HEADER + "Invalid user a from 1.2.3.4 port 22\n" + HEADER + "Invalid user a from 1.2.3.4 port 22\n")
    ids = [[e.event.id for r in read_records(str(log), NORMALIZER, 1024)
            for e in process_record(r, NORMALIZER, [], ParseContext()).events] for _ in range(2)]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


@pytest.mark.parametrize(("line", "received", "year", "expected"), [
    ("Dec 31 23:59:59", datetime(2027, 1, 2, tzinfo=timezone.utc), None, "2026-12-31T23:59:59+00:00"),
    ("Dec 31 23:59:59", datetime(2027, 1, 2, tzinfo=timezone.utc), 2027, "2027-12-31T23:59:59+00:00"),
    ("Jan  1 00:00:05", datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc), None, "2026-01-01T00:00:05+00:00"),
    ("Nov 30 08:01:02", datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc), None, "2026-11-30T08:01:02+00:00"),
    ("Feb 29 10:00:00", datetime(2029, 1, 5, tzinfo=timezone.utc), None, "2028-02-29T10:00:00+00:00"),
])
def test_year_of_bsd_lines_is_the_one_that_does_not_put_them_in_the_future(line, received, year, expected):
    (event,) = events(f"{line} h sshd[1]: Invalid user a from 1.2.3.4", received=received, default_year=year)
    assert event.timestamp.isoformat() == expected


def test_default_timezone_applies_only_where_the_line_has_no_offset():
    berlin = ZoneInfo("Europe/Berlin")
    bsd = events("Jul  1 12:00:00 h sshd[1]: Invalid user a from 1.2.3.4", default_year=2026, default_tz=berlin)
    iso = events("2026-07-01T12:00:00 h sshd[1]: Invalid user a from 1.2.3.4", default_tz=berlin)
    explicit = events("2026-07-01T12:00:00+00:00 h sshd[1]: Invalid user a from 1.2.3.4", default_tz=berlin)
    assert [e[0].timestamp.hour for e in (bsd, iso, explicit)] == [10, 10, 12]


@pytest.mark.parametrize(("message", "user", "ip"), [
    ("Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 1.2.3.4 port 22 ssh2", "x from 6.6.6.6 port 1 ssh2", "1.2.3.4"),
    ("Failed password for x from 6.6.6.6 port 1 ssh2: RSA from 1.2.3.4 port 22 ssh2", "x from 6.6.6.6 port 1 ssh2: RSA", "1.2.3.4"),
    ("Invalid user a from 6.6.6.6 port 1 from 1.2.3.4 port 22", "a from 6.6.6.6 port 1", "1.2.3.4"),
    ("Accepted publickey for git from 1.2.3.4 port 22 ssh2: RSA SHA256:abc", "git", "1.2.3.4"),
    ("User x from 6.6.6.6 not allowed because y from 1.2.3.4 not allowed because listed in DenyUsers",
     "x from 6.6.6.6 not allowed because y", "1.2.3.4"),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=a rhost=6.6.6.6",
     "a rhost=6.6.6.6", "1.2.3.4"),
])
def test_address_comes_from_what_sshd_wrote_not_from_the_client_chosen_user_name(message, user, ip):
    event = one(message)
    assert (event.user.name, event.source.ip) == (user, ip)


@pytest.mark.parametrize(("message", "user"), [
    ("Invalid user  from 1.2.3.4 port 22", ""),
    ("Invalid user admin test from 1.2.3.4 port 22", "admin test"),
    ("Failed password for invalid user  from 1.2.3.4 port 22 ssh2", ""),
    ("Failed keyboard-interactive for <invalid username> from 1.2.3.4 port 22 ssh2", "<invalid username>"),
])
def test_empty_and_odd_user_names_are_kept_as_written(message, user):
    event = one(message)
    assert event.user.name == user and event.source.ip == "1.2.3.4"
    assert event.related.user == ([user] if user else [])


def test_very_long_user_names_are_cut_to_a_keyword():
    event = one("Invalid user " + "a" * 5000 + " from 1.2.3.4 port 22")
    assert len(event.user.name) == 1024


@pytest.mark.parametrize(("address", "ip", "domain"), [
    ("::ffff:192.0.2.44", "192.0.2.44", None),
    ("2001:DB8::0:1", "2001:db8::1", None),
    ("fe80::1%eth0", "fe80::1", None),
    ("gw.corp.example", None, "gw.corp.example"),
])
def test_addresses_are_canonical_ips_or_host_names(address, ip, domain):
    source = one(f"Accepted password for a from {address} port 22 ssh2").source
    assert (source.ip, source.domain, source.address) == (ip, domain, address)


def test_two_factor_login_lines_carry_what_a_detector_needs_to_pair_them():
    first = one("Partial publickey for bob from 2001:db8::7 port 61022 ssh2: ED25519 SHA256:x")
    second = one("Accepted keyboard-interactive/pam for bob from 2001:db8::7 port 61022 ssh2")
    assert (first.event.action, first.event.outcome, first.secmon.auth.mfa) == ("ssh_partial_auth", "success", False)
    assert (second.event.action, second.secmon.auth.method) == ("ssh_login", "keyboard-interactive")
    assert {(e.user.name, e.source.ip, e.source.port) for e in (first, second)} == {("bob", "2001:db8::7", 61022)}


def test_pam_failure_takes_its_source_from_rhost():
    event = one("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.5  user=root")
    assert (event.event.action, event.event.outcome, event.user.name, event.source.ip) == (
        "ssh_pam_auth_failure", "failure", "root", "198.51.100.5")


def test_journald_message_given_as_bytes_is_decoded_with_undecodable_bytes_escaped():
    (event,) = events(journal(list(b"Invalid user caf\xe9 from 1.2.3.4 port 22"), SYSLOG_IDENTIFIER="sshd-session"))
    assert (event.user.name, event.process.name, event.process.pid) == ("caf\\xe9", "sshd-session", 5100)
    assert (event.host.name, event.timestamp.isoformat()) == ("bastion-4", "2026-11-30T08:01:02.123456+00:00")


@pytest.mark.parametrize("line", [
    "Nov 30 08:01:02 bastion-1 CRON[99]: pam_unix(cron:session): session opened for user root",
    "Nov 30 08:01:02 bastion-1 sudo[99]: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/true",
    HEADER + "Server listening on 0.0.0.0 port 22.",
    HEADER + "pam_unix(sshd:session): session opened for user alice(uid=1001) by (uid=0)",
    HEADER + "Postponed publickey for git from 192.0.2.1 port 57904 ssh2 [preauth]",
    journal("Started session-1.scope", SYSLOG_IDENTIFIER="systemd"),
])
def test_lines_without_an_sshd_authentication_event_give_no_events(line):
    assert events(line) == []


@pytest.mark.parametrize(("line", "code"), [
    ("GET / HTTP/1.1", "unrecognized_line"),
    ("Nov 30 08:01", "unrecognized_line"),
    (HEADER + "Failed password for root from", "unrecognized_line"),
    (HEADER + "Accepted password for root from 1.2.3.4 port 99999 ssh2", "invalid_field"),
    ("Feb 30 08:01:02 h sshd[1]: Invalid user a from 1.2.3.4", "invalid_field"),
    (b"Nov 30 08:01:02 h sshd[1]: Invalid user caf\xe9 from 1.2.3.4", "invalid_utf8"),
    (journal(12345), "invalid_field"),
    ('{"MESSAGE": "Invalid user a from 1.2.3.4", "SYSLOG_IDENTIFIER": "sshd"}', "invalid_field"),
    ("{truncated", "invalid_json"),
    ('{"__REALTIME_TIMESTAMP": "1", "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": ' + "[" * 5000 + "]" * 5000 + "}", "too_deep"),
])
def test_broken_lines_raise_a_bounded_error(line, code):
    assert error(line).code == code


def test_keep_original_stores_the_whole_line():
    line = HEADER + "Invalid user a from 1.2.3.4 port 22"
    assert events(line, keep_original=True)[0].event.original == line
    assert events(line)[0].event.original is None


@pytest.mark.parametrize(("first", "claimed"), [
    (HEADER.encode() + b"Accepted password for a from 1.2.3.4 port 22 ssh2\n", True),
    (b"<38>1 2026-11-30T07:02:00Z h sshd-session 4201 - - Connection closed by 1.2.3.4 port 22\n", True),
    (journal("Invalid user a from 1.2.3.4").encode(), True),
    (b"Nov 30 08:01:02 bastion-1 CRON[99]: pam_unix(cron:session): session opened\n", False),
    (journal("x", SYSLOG_IDENTIFIER="systemd").encode(), False),
    (b'{"timestamp": "2026-11-30T08:01:12Z", "user": "a", "outcome": "success", "source_ip": "1.2.3.4"}\n', False),
])
def test_sniff_claims_only_sshd_lines(first: bytes, claimed: bool):
    assert NORMALIZER.sniff(first) is claimed
    assert not (claimed and APP_SIGNIN.sniff(first))


@pytest.mark.parametrize("fixture", ["auth.log", "rsyslog.log", "journal.jsonl"])
def test_secmon_run_infers_sshd_from_the_first_line_of_each_form(fixture: str):
    assert registry.sniff(head(str(DATA / fixture))) is NORMALIZER
