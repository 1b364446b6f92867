"""SSH detector behaviour the case files cannot show: routing, the timer versus the next event,
state clean-up, the per-connection attempt count and configuration errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from detectors.cases import make_event
from detectors.engine import Engine
from detectors.identity import attempt_of
from detectors.registry import DETECTORS, DetectorConfig, configure
from detectors.rules import _attempts, _ssh, ssh_login_without_2fa
from detectors.state import DictStore
from schemas.errors import ConfigError
from schemas.event import Event

SSH_RULES = (
    "signin_bruteforce_ip",
    "signin_bruteforce_user",
    "signin_success_after_failures",
    "ssh_login_without_2fa",
    "ssh_root_login",
    "ssh_user_enumeration",
)
COUNTED = {"signin_bruteforce_ip", "signin_bruteforce_user", "signin_success_after_failures"}
TWO_FA = DETECTORS["ssh_login_without_2fa"]


def ssh(**fields: Any) -> Event:
    """An accepted publickey login of alice on bastion-1, overridable by dotted ECS paths."""
    base = {
        "@timestamp": "2026-11-30T08:00:00+00:00",
        "event.id": "e1",
        "event.dataset": "ssh.auth",
        "event.action": "ssh_login",
        "event.outcome": "success",
        "user.name": "alice",
        "host.name": "bastion-1",
        "source.ip": "198.51.100.23",
        "source.port": 50122,
        "secmon.auth.method": "publickey",
    }
    return make_event({**base, **fields})


def at(hms: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-30T{hms}+00:00")


ROUTER = Engine(detectors=[(DETECTORS[d], DETECTORS[d].params()) for d in SSH_RULES], store=DictStore(), strict=True)


def routed(event: Event) -> set[str]:
    return {d for d, _key in ROUTER.routes(event)}


@pytest.mark.parametrize(
    ("action", "outcome", "user", "expected"),
    [
        ("ssh_login", "failure", "admin", {*COUNTED, "ssh_user_enumeration"}),
        ("ssh_invalid_user", "failure", "admin", {*COUNTED, "ssh_user_enumeration"}),
        ("ssh_max_auth_attempts", "failure", "admin", {*COUNTED, "ssh_user_enumeration"}),
        ("ssh_user_not_allowed", "failure", "guest", {"ssh_user_enumeration"}),
        ("ssh_pam_auth_failure", "failure", "root", set()),  # no pid to pair it with its Failed line
        ("ssh_disconnect", "unknown", "root", set()),
        ("ssh_disconnect", "failure", "root", {*COUNTED, "ssh_user_enumeration"}),
        ("ssh_connection_refused", "failure", None, set()),
        ("ssh_break_in_attempt", "unknown", None, set()),
        ("ssh_partial_auth", "success", "root", {"ssh_login_without_2fa"}),
        ("ssh_login", "success", "alice", {"ssh_login_without_2fa", "signin_success_after_failures"}),
        ("ssh_login", "success", "root", {"ssh_login_without_2fa", "ssh_root_login", "signin_success_after_failures"}),
    ],
)
def test_each_action_is_routed_only_where_it_can_count(action, outcome, user, expected):
    assert routed(ssh(**{"event.action": action, "event.outcome": outcome, "user.name": user})) == expected


def test_a_pam_failure_with_its_pid_is_counted_paired_with_the_failed_line():
    pam = ssh(**{"event.action": "ssh_pam_auth_failure", "event.outcome": "failure", "process.pid": 7})
    assert routed(pam) == COUNTED
    failed = ssh(**{"event.outcome": "failure", "event.id": "e2", "process.pid": 7, "secmon.auth.method": "password"})
    logins = [attempt_of(pam), attempt_of(failed)]
    assert _attempts.attempts([_attempts.item(x) for x in logins if x]) == 1


def test_events_without_a_client_address_are_not_routed():
    # only to the account's: a success without an address still ends its failures' burst
    assert routed(ssh(**{"source.ip": None, "source.port": None})) == {"signin_success_after_failures"}


def test_attempts_take_the_largest_kind_per_connection():
    items = ["a 1 i - admin", "b 1 f - admin", "c 2 f - root", "d 2 f - root", "e 2 x - root", "f ef i - pi"]
    assert _attempts.attempts(items) == 1 + 2 + 1
    assert _attempts.users(items) == {"admin", "root", "pi"}


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"secmon.auth.method": "password"}, "f"),
        ({"secmon.auth.method": "publickey"}, "k"),
        ({"secmon.auth.method": "none"}, "k"),
        ({"secmon.auth.method": "publickey", "event.reason": "invalid_user"}, "f"),
        ({"event.action": "ssh_disconnect"}, "d"),
        ({"event.action": "ssh_disconnect", "event.reason": "after_failure"}, "c"),
        ({"event.action": "ssh_pam_auth_failure", "process.pid": 9}, "p"),
    ],
)
def test_key_probes_of_existing_accounts_are_a_kind_of_their_own(fields, kind):
    login = attempt_of(ssh(**{"event.outcome": "failure", **fields}))
    assert login is not None and login.kind == kind


def test_key_probes_count_only_where_sshd_cut_the_connection_off_in_any_order():
    probes = ["a 1 k - git", "b 1 k - git", "c 1 k - git", "d 2 k - git", "e 2 k - git"]
    assert _attempts.attempts(probes) == 0
    assert _attempts.attempts(["z 2 x - git"] + probes) == 0 + 2  # connection 1 has no verdict; 2 was cut off
    assert _attempts.attempts(probes + ["y 1 d - git", "z 2 x - git"]) == 3 + 2
    assert _attempts.attempts(probes + ["y 1 c - git"]) == 1  # a close after failures is no cut-off


def test_without_ticks_the_next_event_of_the_key_settles_a_lone_key_login():
    engine = Engine(detectors=[(TWO_FA, TWO_FA.params())], store=DictStore(), strict=True)
    assert engine.process(ssh()) == []
    assert (
        engine.process(ssh(**{"@timestamp": "2026-11-30T08:02:00+00:00", "event.id": "e2", "source.port": 50200})) == []
    )  # 120 s exactly: still in the window
    alerts = engine.process(
        ssh(
            **{
                "@timestamp": "2026-11-30T08:02:01+00:00",
                "event.id": "e3",
                "event.action": "ssh_partial_auth",
                "source.port": 50300,
            }
        )
    )
    assert [(a.rule.id, a.secmon.event_ids, a.alert.first_seen) for a in alerts] == [
        ("ssh_login_without_2fa", ["e1"], at("08:02:00"))
    ]


def test_the_timer_alerts_once_after_the_window_and_clears_the_state():
    store = DictStore()
    engine = Engine(detectors=[(TWO_FA, TWO_FA.params())], store=store, strict=True)
    engine.process(ssh())
    assert engine.tick(at("08:01:59")) == []
    assert store.get("ssh_login_without_2fa|alice|bastion-1|198.51.100.23").state["p"]["50122"]["id"] == "e1"
    assert [a.alert.count for a in engine.tick(at("08:02:01"))] == [1]
    assert engine.tick(at("08:10:00")) == []
    assert store.get("ssh_login_without_2fa|alice|bastion-1|198.51.100.23").state is None


def test_a_paired_session_leaves_no_pending_state():
    store = DictStore()
    engine = Engine(detectors=[(TWO_FA, TWO_FA.params())], store=store, strict=True)
    engine.process(ssh(**{"event.action": "ssh_partial_auth", "secmon.auth.mfa": False}))
    engine.process(ssh(**{"event.id": "e2", "secmon.auth.method": "keyboard-interactive"}))
    assert store.get("ssh_login_without_2fa|alice|bastion-1|198.51.100.23").state is None
    assert engine.tick(at("09:00:00")) == []


def test_a_wall_clock_tick_between_partial_and_accepted_does_not_break_the_pair():
    engine = Engine(detectors=[(TWO_FA, TWO_FA.params())], store=DictStore(), strict=True)
    engine.process(ssh(**{"event.action": "ssh_partial_auth", "secmon.auth.mfa": False}))
    assert engine.tick(at("09:30:00")) == []  # a worker catching up: wall time far past the lines
    engine.process(
        ssh(
            **{
                "@timestamp": "2026-11-30T08:00:07+00:00",
                "event.id": "e2",
                "secmon.auth.method": "keyboard-interactive",
            }
        )
    )
    assert engine.tick(at("09:31:00")) == []


def test_pending_sessions_per_key_are_bounded():
    state = None
    params = TWO_FA.params()
    for port in range(ssh_login_without_2fa.MAX_PENDING + 10):
        event = ssh(**{"source.port": 1000 + port, "event.id": f"e{port}"})
        state, _ = ssh_login_without_2fa.step(state, event, params)
    assert len(state["p"]) == ssh_login_without_2fa.MAX_PENDING
    assert min(int(p) for p in state["p"]) == 1010  # the oldest were dropped


def test_bad_parameters_are_reported_with_their_location():
    with pytest.raises(ConfigError) as err:
        configure(
            {
                "ssh_root_login": DetectorConfig(params={"exempt_sources": ["10.0.0.0/33"]}),
                "ssh_login_without_2fa": DetectorConfig(params={"pair_second": 60}),
                "signin_bruteforce_ip": DetectorConfig(params={"threshold": 1}),
            }
        )
    text = str(err.value)
    assert "detectors.ssh_root_login.params.exempt_sources.0" in text
    assert "detectors.ssh_login_without_2fa.params.pair_second: Extra inputs are not permitted" in text
    assert "detectors.signin_bruteforce_ip.params.threshold" in text


def test_host_patterns_match_case_insensitively():
    assert _ssh.matches_any("Bastion-2", ["bastion-*"])
    assert not _ssh.matches_any("web-1", ["bastion-*", "db-prod"])
    assert _ssh.matches_any(None, ["*"])  # a line without a host name is still under "every host"
