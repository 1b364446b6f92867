"""Profiles stay small whatever an entity does, and made-up names get none."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone

from detectors.anomaly.behaviour import Peers
from detectors.anomaly.profile import count, rarity, remember
from detectors.anomaly.server import SERVER, _network, network
from detectors.anomaly.signin import SIGNIN
from detectors.anomaly.staff import STAFF
from detectors.cases import make_event

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _signin(i: int, rng: random.Random, outcome: str = "success", user: str = "bob@acme.example"):
    return make_event(
        {
            "@timestamp": (T0 + timedelta(minutes=37 * i)).isoformat(),
            "event.id": f"e{i}",
            "event.outcome": outcome,
            "user.name": user,
            "organization.id": "ws-acme",
            "source.ip": f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "source.as.number": rng.randrange(1, 60000),
            "source.geo.country_iso_code": rng.choice("ABCDEFGH") + "X",
            "user_agent.original": f"agent/{rng.random()}",
            "user_agent.name": f"b{rng.randrange(50)}",
            "secmon.auth.method": rng.choice(["password", "sso", "passkey", "magic_link", "oauth"]),
        }
    )


def test_a_year_of_chaotic_sign_ins_keeps_the_profile_under_two_kilobytes():
    rng, state, peers = random.Random(4), None, Peers()
    for i in range(14_000):  # ~a year at 37 minutes apart, every value new each time
        state, _ = SIGNIN.observe(state, _signin(i, rng, rng.choice(["success", "failure"])), peers)
    assert len(json.dumps(state)) < 2000


def test_failures_of_a_name_that_never_signed_in_leave_no_profile():
    rng = random.Random(5)
    state, obs = SIGNIN.observe(None, _signin(1, rng, "failure", user="admin123"), Peers())
    assert state is None and obs is None
    ssh_fail = make_event(
        {
            "@timestamp": T0.isoformat(),
            "event.id": "f1",
            "event.dataset": "ssh.auth",
            "event.action": "ssh_login",
            "event.outcome": "failure",
            "user.name": "oracle",
            "host.name": "db-1",
            "source.ip": "203.0.113.5",
        }
    )
    assert SERVER.observe(None, ssh_fail, Peers()) == (None, None)


def test_staff_profiles_are_bounded_too():
    rng, state, peers = random.Random(6), None, Peers()
    for i in range(5000):
        event = make_event(
            {
                "@timestamp": (T0 + timedelta(minutes=53 * i)).isoformat(),
                "event.id": f"s{i}",
                "event.dataset": "staff.access",
                "user.name": "dana@corp.example",
                "organization.id": f"ws-{rng.randrange(10_000)}",
                "secmon.staff_access.record_count": rng.randrange(10_000),
                "secmon.staff_access.action": rng.choice(["read", "export", "update", "delete"]),
            }
        )
        state, _ = STAFF.observe(state, event, peers)
    assert len(json.dumps(state)) < 3000
    assert len(peers.known) == 0  # no team in context: nothing learned for peers


def test_rarity_is_relative_to_the_usual_bin_and_ignores_jitter():
    hist = [0] * 24
    hist[8], hist[9], hist[14] = 40, 35, 3
    assert rarity(hist, 9) == 0.0  # nearly as usual as 08h
    assert rarity(hist, 3) > 2.0  # never at 03h in a long history
    assert 0 < rarity(hist, 14) < rarity(hist, 3)


def test_rarity_is_the_log_ratio_of_the_usual_mass_to_the_bin_mass():
    rng = random.Random(8)
    for _ in range(2000):
        hist = [rng.choice([0, 0, 1, 3, 40, 399]) for _ in range(rng.choice([7, 24]))]
        i = rng.randrange(len(hist))
        left, right = hist[i - 1], hist[(i + 1) % len(hist)]
        spread = [
            c + 0.5 * (a + b) + 0.25 for c, a, b in zip(hist, hist[-1:] + hist[:-1], hist[1:] + hist[:1], strict=True)
        ]
        for mass, here, kw in (
            (spread, hist[i] + 0.5 * (left + right) + 0.25, {}),
            ([c + 0.25 for c in hist], hist[i] + 0.25, {"spread": False}),
        ):
            value = math.log10(max(mass) / here) if any(hist) else 0.0
            expected = 0.0 if value < math.log10(2) else min(3.0, value)
            assert rarity(hist, i, **kw) == expected, (hist, i, kw)


def test_count_moves_the_value_last_and_halves_past_the_decay_mark():
    counter = [["a", 3], ["b", 1]]
    assert count(counter, "a", 4) == [["b", 1], ["a", 4]]
    assert count(counter, "c", 2) == [["b", 1], ["c", 1]]
    assert counter == [["a", 3], ["b", 1]]  # the profile it came from is left as it was
    assert count([["a", 200], ["b", 200]], "b", 4) == [["a", 100], ["b", 100]]
    assert remember(["x", "y"], "y", 4) == ["x", "y"] and remember(["x", "y"], "x", 4) == ["y", "x"]


def test_network_is_the_prefix_of_the_address_and_its_cache_stays_bounded():
    assert network("198.51.100.23") == "198.51.100.0/24"
    assert network("2001:db8:1:2::7") == "2001:db8:1::/48"
    assert network("not-an-ip") is None
    assert network(None) is None
    for i in range(6000):  # a spray of made-up addresses evicts, it does not grow the cache
        network(f"10.{i // 256}.{i % 256}.1")
    assert _network.cache_info().currsize <= 4096
    assert network("198.51.100.23") == "198.51.100.0/24"
