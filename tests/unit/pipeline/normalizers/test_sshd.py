"""sshd: syslog and journald lines -> ssh.auth events (behaviours worth naming; the rest is golden)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.normalizers import registry
from pipeline.normalizers.app_signin import NORMALIZER as APP_SIGNIN
from pipeline.normalizers.base import ParseError, ParseOptions, RawRecord
from pipeline.normalizers.sshd import MAX_REPEATS, NORMALIZER, parse
from pipeline.process import process_record
from pipeline.readers import head, read_records
from schemas.event import Event, Origin

DATA = Path(__file__).parents[3] / "data" / "normalizers" / "sshd"
HEADER = "Nov 30 08:01:02 bastion-1 sshd[2301]: "
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def events(line: str | bytes, received: datetime = RECEIVED, **parse_options) -> list[Event]:
    """The events of one line read at a fixed file position."""
    data = line.encode() if isinstance(line, str) else line
    record = RawRecord(data=data, origin=Origin(source="sshd", file_id="f1", offset=0), received=received)
    return parse(record, ParseOptions(**parse_options))


def one(message: str, **parse_options) -> Event:
    """The single event of one sshd message behind a fixed RFC 3164 header."""
    (event,) = events(HEADER + message, **parse_options)
    return event


def error(line: str | bytes) -> ParseError:
    with pytest.raises(ParseError) as exc:
        events(line)
    return exc.value


def journal(message: str | list[int], **fields: str) -> str:
    """A `journalctl -o json` line from sshd."""
    entry = {
        "__REALTIME_TIMESTAMP": "1796025662123456",
        "_HOSTNAME": "bastion-4",
        "_PID": "5100",
        "SYSLOG_IDENTIFIER": "sshd",
        "MESSAGE": message,
        **fields,
    }
    return json.dumps(entry, separators=(",", ":"))


def test_message_repeated_yields_one_event_per_repeat_with_distinct_ids(tmp_path: Path):
    log = tmp_path / "auth.log"
    log.write_text(HEADER + "message repeated 3 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]\n")
    (record,) = read_records(str(log), NORMALIZER, 1024 * 1024)
    result = process_record(record, NORMALIZER, [], ParseOptions(default_year=2026))
    assert len(result.events) == 3 and len({e.event.id for e in result.events}) == 3
    docs = [e.to_doc() for e in result.events]
    for doc in docs:
        del doc["event"]["id"]
    assert docs[0] == docs[1] == docs[2]
    assert (docs[0]["user"]["name"], docs[0]["source"]["ip"], docs[0]["event"]["outcome"]) == (
        "root",
        "1.2.3.4",
        "failure",
    )


def test_repeat_count_is_capped_so_one_line_cannot_fan_out_without_bound():
    line = HEADER + "message repeated 999999999 times: [ Invalid user a from 1.2.3.4 port 22]"
    assert len(events(line)) == MAX_REPEATS


def test_ids_are_stable_across_reads_and_differ_per_line(tmp_path: Path):
    log = tmp_path / "auth.log"
    log.write_text(HEADER + "Invalid user a from 1.2.3.4 port 22\n" + HEADER + "Invalid user a from 1.2.3.4 port 22\n")
    ids = [
        [
            e.event.id
            for r in read_records(str(log), NORMALIZER, 1024)
            for e in process_record(r, NORMALIZER, [], ParseOptions()).events
        ]
        for _ in range(2)
    ]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


@pytest.mark.parametrize(
    ("line", "received", "year", "expected"),
    [
        ("Dec 31 23:59:59", datetime(2027, 1, 2, tzinfo=timezone.utc), None, "2026-12-31T23:59:59+00:00"),
        ("Dec 31 23:59:59", datetime(2027, 1, 2, tzinfo=timezone.utc), 2027, "2027-12-31T23:59:59+00:00"),
        ("Jan  1 00:00:05", datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc), None, "2026-01-01T00:00:05+00:00"),
        ("Nov 30 08:01:02", datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc), None, "2026-11-30T08:01:02+00:00"),
        ("Feb 29 10:00:00", datetime(2029, 1, 5, tzinfo=timezone.utc), None, "2028-02-29T10:00:00+00:00"),
    ],
)
def test_year_of_bsd_lines_is_the_one_that_does_not_put_them_in_the_future(line, received, year, expected):
    (event,) = events(f"{line} h sshd[1]: Invalid user a from 1.2.3.4", received=received, default_year=year)
    assert event.timestamp.isoformat() == expected


def test_default_timezone_applies_only_where_the_line_has_no_offset():
    berlin = ZoneInfo("Europe/Berlin")
    bsd = events("Jul  1 12:00:00 h sshd[1]: Invalid user a from 1.2.3.4", default_year=2026, default_tz=berlin)
    iso = events("2026-07-01T12:00:00 h sshd[1]: Invalid user a from 1.2.3.4", default_tz=berlin)
    explicit = events("2026-07-01T12:00:00+00:00 h sshd[1]: Invalid user a from 1.2.3.4", default_tz=berlin)
    assert [e[0].timestamp.hour for e in (bsd, iso, explicit)] == [10, 10, 12]


# 1.2.3.4 is where the client really is, 6.6.6.6 what a client-chosen name pretends (None: ambiguous).
@pytest.mark.parametrize(
    ("message", "user", "ip"),
    [
        (
            "Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 1.2.3.4 port 22 ssh2",
            "x from 6.6.6.6 port 1 ssh2",
            "1.2.3.4",
        ),
        ("Failed password for invalid user from 6.6.6.6 from 1.2.3.4 port 22 ssh2", "from 6.6.6.6", "1.2.3.4"),
        # sshd writes nothing after `ssh2` on a password line: the name is `x from 6.6.6.6 port 1 ssh2:`
        (
            "Failed password for invalid user x from 6.6.6.6 port 1 ssh2: from 1.2.3.4 port 22 ssh2",
            "x from 6.6.6.6 port 1 ssh2:",
            "1.2.3.4",
        ),
        (
            "Failed password for x from 6.6.6.6 port 1 ssh2: RSA from 1.2.3.4 port 22 ssh2",
            "x from 6.6.6.6 port 1 ssh2: RSA",
            "1.2.3.4",
        ),
        (
            "Failed publickey for x from 6.6.6.6 port 1 ssh2: RSA SHA256:a from 1.2.3.4 port 22 ssh2: RSA SHA256:b",
            "x from 6.6.6.6 port 1 ssh2: RSA SHA256:a",
            "1.2.3.4",
        ),
        ("Accepted publickey for git from 1.2.3.4 port 22 ssh2: RSA SHA256:abc", "git", "1.2.3.4"),
        ("Failed rhosts-rsa for u from 1.2.3.4 port 22 ssh1: ruser from 6.6.6.6", "u", "1.2.3.4"),
        ("Invalid user a from 6.6.6.6 port 1 from 1.2.3.4 port 22", "a from 6.6.6.6 port 1", "1.2.3.4"),
        (
            "Invalid user a' port 1\" from 6.6.6.6\x1b[2K\t port 2 from 1.2.3.4 port 22",
            "a' port 1\" from 6.6.6.6\x1b[2K\t port 2",
            "1.2.3.4",
        ),
        (
            "maximum authentication attempts exceeded for invalid user x from 6.6.6.6 port 1 ssh2 from 1.2.3.4 port 22 ssh2",
            "x from 6.6.6.6 port 1 ssh2",
            "1.2.3.4",
        ),
        (
            "User x from 6.6.6.6 not allowed because y from 1.2.3.4 not allowed because listed in DenyUsers",
            "x from 6.6.6.6 not allowed because y",
            "1.2.3.4",
        ),
        ("PAM: Authentication failure for x from 6.6.6.6 from 1.2.3.4", "x from 6.6.6.6", "1.2.3.4"),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=x rhost=6.6.6.6 rhost=1.2.3.4",
            "x rhost=6.6.6.6",
            "1.2.3.4",
        ),
        ("Disconnected from invalid user x 6.6.6.6 port 1 1.2.3.4 port 22", "x 6.6.6.6 port 1", "1.2.3.4"),
        ("Connection closed by authenticating user x 6.6.6.6 port 1 1.2.3.4 port 22", "x 6.6.6.6 port 1", "1.2.3.4"),
        ("Received disconnect from 1.2.3.4 port 22:3: x from 6.6.6.6 port 1: Auth fail", None, "1.2.3.4"),
        ("refused connect from x@6.6.6.6 (6.6.6.6)@gw.example (1.2.3.4)", None, "1.2.3.4"),
        # The tail fits in two places: a certificate key id, hostbased client names, protocol 1's ruser,
        # PAM's ruser and user=, and a disconnect reason quoting names are all the client's text too.
        (
            "Failed publickey for git from 6.6.6.6 port 1 ssh2: RSA-CERT SHA256:a ID k from 1.2.3.4 port 22 ssh2: "
            "RSA-CERT SHA256:b ID k (serial 1) CA RSA SHA256:c",
            None,
            None,
        ),
        (
            'Failed hostbased for u from 6.6.6.6 port 1 ssh2: RSA SHA256:a, client user "u", client host "h from 1.2.3.4 '
            'port 22 ssh2: RSA SHA256:b, client user "v", client host "w"',
            None,
            None,
        ),
        ("Failed rhosts-rsa for u from 6.6.6.6 port 1 ssh1: ruser x from 1.2.3.4 port 22 ssh1", None, None),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=6.6.6.6  user=a rhost=1.2.3.4",
            None,
            None,
        ),
        (
            "Disconnecting invalid user a 6.6.6.6 port 1: Change of username or service not allowed: (a,ssh-connection) -> "
            "(b 1.2.3.4 port 22: x,ssh-connection)",
            None,
            None,
        ),
        ("Invalid user " + " from 6.6.6.6" * 40 + " from 1.2.3.4 port 22", None, None),
    ],
)
def test_a_client_chosen_name_can_never_choose_the_source_address(message, user, ip):
    event = one(message)
    assert (event.user.name if event.user else None, event.source.ip if event.source else None) == (user, ip)
    if ip is None:
        assert event.event.reason == "ambiguous_source" and event.event.outcome in ("failure", "unknown")


def test_an_ambiguous_line_keeps_every_candidate_address_searchable():
    event = one("Failed rhosts-rsa for u from 6.6.6.6 port 1 ssh1: ruser x from ::ffff:1.2.3.4 port 22 ssh1")
    assert (event.source, event.user, event.event.action, event.event.outcome) == (None, None, "ssh_login", "failure")
    assert event.related.ip == ["1.2.3.4", "6.6.6.6"]
    assert event.related.user == ["u from 6.6.6.6 port 1 ssh1: ruser x", "u"]


def test_control_bytes_a_journald_sender_kept_stay_inside_the_name():
    (event,) = events(journal("Invalid user a\nb\r from 6.6.6.6 port 1\x00 from 1.2.3.4 port 22"))
    assert (event.user.name, event.source.ip) == ("a\nb\r from 6.6.6.6 port 1\x00", "1.2.3.4")


@pytest.mark.parametrize(
    ("message", "user"),
    [
        ("Invalid user  from 1.2.3.4 port 22", ""),
        ("Invalid user admin test from 1.2.3.4 port 22", "admin test"),
        ("Failed password for invalid user  from 1.2.3.4 port 22 ssh2", ""),
        ("Failed keyboard-interactive for <invalid username> from 1.2.3.4 port 22 ssh2", "<invalid username>"),
    ],
)
def test_empty_and_odd_user_names_are_kept_as_written(message, user):
    event = one(message)
    assert event.user.name == user and event.source.ip == "1.2.3.4"
    assert event.related.user == ([user] if user else [])


def test_very_long_user_names_are_cut_to_a_keyword():
    data = (HEADER + "Invalid user " + "a" * 5000 + " from 1.2.3.4 port 22").encode()
    record = RawRecord(data=data, origin=Origin(source="sshd", file_id="f1", offset=0), received=RECEIVED)
    (event,) = process_record(record, NORMALIZER, [], ParseOptions()).events  # the schema cuts (schemas.bounds)
    assert len(event.user.name) == 1024 and {"user.name", "related.user"} <= set(event.secmon.truncated)


@pytest.mark.parametrize(
    ("address", "ip", "domain"),
    [
        ("::ffff:192.0.2.44", "192.0.2.44", None),
        ("2001:DB8::0:1", "2001:db8::1", None),
        ("fe80::1%eth0", "fe80::1", None),
        ("gw.corp.example", None, "gw.corp.example"),
    ],
)
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
    event = one(
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.5  user=root"
    )
    assert (event.event.action, event.event.outcome, event.user.name, event.source.ip) == (
        "ssh_pam_auth_failure",
        "failure",
        "root",
        "198.51.100.5",
    )


def test_journald_message_given_as_bytes_is_decoded_with_undecodable_bytes_escaped():
    (event,) = events(journal(list(b"Invalid user caf\xe9 from 1.2.3.4 port 22"), SYSLOG_IDENTIFIER="sshd-session"))
    assert (event.user.name, event.process.name, event.process.pid) == ("caf\\xe9", "sshd-session", 5100)
    assert (event.host.name, event.timestamp.isoformat()) == ("bastion-4", "2026-11-30T08:01:02.123456+00:00")


@pytest.mark.parametrize(
    "line",
    [
        "Nov 30 08:01:02 bastion-1 CRON[99]: pam_unix(cron:session): session opened for user root",
        "Nov 30 08:01:02 bastion-1 sudo[99]: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/true",
        HEADER + "Server listening on 0.0.0.0 port 22.",
        HEADER + "pam_unix(sshd:session): session opened for user alice(uid=1001) by (uid=0)",
        HEADER + "Postponed publickey for git from 192.0.2.1 port 57904 ssh2 [preauth]",
        journal("Started session-1.scope", SYSLOG_IDENTIFIER="systemd"),
    ],
)
def test_lines_without_an_sshd_authentication_event_give_no_events(line):
    assert events(line) == []


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("GET / HTTP/1.1", "unrecognized_line"),
        ("Nov 30 08:01", "unrecognized_line"),
        (HEADER + "Failed password for root from", "unrecognized_line"),
        (HEADER + "Accepted password for root from 1.2.3.4 port 99999 ssh2", "invalid_field"),
        ("Feb 30 08:01:02 h sshd[1]: Invalid user a from 1.2.3.4", "invalid_field"),
        (b"Nov 30 08:01:02 h sshd[1]: Invalid user caf\xe9 from 1.2.3.4", "invalid_utf8"),
        (journal(12345), "invalid_field"),
        ('{"MESSAGE": "Invalid user a from 1.2.3.4", "SYSLOG_IDENTIFIER": "sshd"}', "invalid_field"),
        ("{truncated", "invalid_json"),
        (
            '{"__REALTIME_TIMESTAMP": "1", "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": ' + "[" * 5000 + "]" * 5000 + "}",
            "too_deep",
        ),
    ],
)
def test_broken_lines_raise_a_bounded_error(line, code):
    assert error(line).code == code


def test_keep_original_stores_the_whole_line():
    line = HEADER + "Invalid user a from 1.2.3.4 port 22"
    assert events(line, keep_original=True)[0].event.original == line
    assert events(line)[0].event.original is None


@pytest.mark.parametrize(
    ("first", "claimed"),
    [
        (HEADER.encode() + b"Accepted password for a from 1.2.3.4 port 22 ssh2\n", True),
        (b"<38>1 2026-11-30T07:02:00Z h sshd-session 4201 - - Connection closed by 1.2.3.4 port 22\n", True),
        (journal("Invalid user a from 1.2.3.4").encode(), True),
        (b"Nov 30 08:01:02 bastion-1 CRON[99]: pam_unix(cron:session): session opened\n", False),
        (journal("x", SYSLOG_IDENTIFIER="systemd").encode(), False),
        (b'{"timestamp": "2026-11-30T08:01:12Z", "user": "a", "outcome": "success", "source_ip": "1.2.3.4"}\n', False),
    ],
)
def test_sniff_claims_only_sshd_lines(first: bytes, claimed: bool):
    assert NORMALIZER.sniff(first) is claimed
    assert not (claimed and APP_SIGNIN.sniff(first))


@pytest.mark.parametrize("fixture", ["auth.log", "rsyslog.log", "journal.jsonl"])
def test_secmon_run_infers_sshd_from_the_first_line_of_each_form(fixture: str):
    assert registry.sniff(head(str(DATA / fixture))) is NORMALIZER
