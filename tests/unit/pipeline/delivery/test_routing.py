"""Routing tree, Alertmanager style: a table of label sets -> expected receivers, plus the rules
that are not configurable and the validation of the routes file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.cli import main
from pipeline.delivery.routing import (
    LABELS,
    Matcher,
    RoutingError,
    compact_json,
    load_routes,
    parse_duration,
    parse_labels,
)
from tests.unit.pipeline.delivery.factories import alert

TREE = """
teams:
  identity: [signin_*, account_*]
  platform: [delivery_failed, "policy.backups"]
route:
  receiver: default-hook
  group_by: [rule]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: [team=platform]
      receiver: platform-chat
      group_wait: 0s
    - matchers: ['severity=~"high|critical"']
      receiver: pager
      continue: true
    - matchers: [team=identity]
      receiver: identity-chat
      group_by: [rule, workspace]
      routes:
        - matchers: ['workspace=~"ws-(acme|globex)"']
          receiver: vip-chat
          group_interval: 1m
        - matchers: ['tags=~"attack\\\\.t1110.*"', 'severity!=low']
          receiver: identity-hook
    - matchers: ['workspace!~"ws-.*"']
      receiver: internal-hook
"""
KINDS = {
    "default-hook": "webhook",
    "platform-chat": "slack",
    "pager": "pagerduty",
    "identity-chat": "slack",
    "vip-chat": "slack",
    "identity-hook": "webhook",
    "internal-hook": "webhook",
}
RECEIVERS = {n: SimpleNamespace(kind=k, pages=k == "pagerduty") for n, k in KINDS.items()}


@pytest.fixture
def tree(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text(TREE)
    return load_routes(path, RECEIVERS)


def labels(**given: str) -> dict[str, tuple[str, ...]]:
    out = {name: ("",) for name in LABELS}
    out.update(parse_labels([f"{k}={v}" for k, v in given.items()]))
    return out


# label set -> receivers, in the order Alertmanager's walk returns them
TABLE = [
    ({"rule": "x", "severity": "low", "workspace": "ws-1"}, ["default-hook"]),
    ({"rule": "x", "severity": "low"}, ["internal-hook"]),  # no workspace: `!~"ws-.*"` matches ""
    ({"rule": "x", "severity": "high", "workspace": "ws-1"}, ["pager"]),  # a match, even with continue: no fallback
    ({"rule": "x", "severity": "critical"}, ["pager", "internal-hook"]),
    ({"team": "platform", "severity": "critical"}, ["platform-chat"]),  # first match without continue stops
    ({"team": "identity", "severity": "low", "workspace": "ws-9"}, ["identity-chat"]),  # no child matched: parent
    ({"team": "identity", "severity": "low", "workspace": "ws-acme"}, ["vip-chat"]),
    ({"team": "identity", "severity": "high", "workspace": "ws-globex"}, ["pager", "vip-chat"]),
    ({"team": "identity", "severity": "medium", "workspace": "ws-9", "tags": "attack.t1110.001,x"}, ["identity-hook"]),
    ({"team": "identity", "severity": "low", "workspace": "ws-9", "tags": "attack.t1110"}, ["identity-chat"]),
    ({"team": "identity", "severity": "medium", "workspace": "ws-9", "tags": "attack.t1078"}, ["identity-chat"]),
]


@pytest.mark.parametrize(
    ("given", "expected"), TABLE, ids=[",".join(f"{k}={v}" for k, v in g.items()) for g, _ in TABLE]
)
def test_routing_table(tree, given, expected):
    assert [r.receiver for r in tree.match(labels(**given))] == expected


def test_inheritance_of_receiver_grouping_and_timing(tree):
    vip = next(r for r in tree.match(labels(team="identity", workspace="ws-acme")))
    assert vip.receiver == "vip-chat"
    assert vip.group_by == ("rule", "workspace")  # from its parent
    assert (vip.timing.wait, vip.timing.interval, vip.timing.repeat) == (30, 60, 4 * 3600)
    platform = tree.match(labels(team="platform"))[0]
    assert platform.group_by == ("rule",) and platform.timing.wait == 0


def test_team_comes_from_rule_ids_and_tags(tree):
    assert tree.labels(alert(rule="signin_new_device"))["team"] == ("identity",)
    assert tree.labels(alert(rule="backup_late", tags=("policy.backups",)))["team"] == ("platform",)
    assert tree.labels(alert(rule="other", tags=()))["team"] == ("",)


def test_experimental_detectors_never_page(tree):
    # the pager route is skipped (the alert falls through to the next match) and recorded as blocked
    dests = tree.destinations(alert(rule="other", severity="critical", maturity="experimental", workspace="ws-1"))
    assert [(d.receiver, d.blocked) for d in dests] == [("default-hook", None), ("pager", "experimental")]
    stable = tree.destinations(alert(rule="other", severity="critical", workspace="ws-1"))
    assert [(d.receiver, d.blocked) for d in stable] == [("pager", None)]


def test_pagerduty_groups_per_alert_and_others_by_route(tree):
    first = alert(rule="other", severity="high", workspace=None, user="a")
    second = alert(rule="other", severity="high", workspace=None, user="b")
    pager = [d for d in tree.destinations(first) + tree.destinations(second) if d.receiver == "pager"]
    hook = [d for d in tree.destinations(first) + tree.destinations(second) if d.receiver == "internal-hook"]
    assert pager[0].group_key != pager[1].group_key and pager[0].group_by == ("alert_id",)
    assert hook[0].group_key == hook[1].group_key and hook[0].group_labels == {"rule": "other"}


@pytest.mark.parametrize(
    ("text", "hits", "misses"),
    [
        ("severity=high", ["high"], ["critical", ""]),
        ('severity!="high"', ["low", ""], ["high"]),
        ('severity=~"high|critical"', ["high", "critical"], ["highish", "low"]),  # anchored like Alertmanager
        ("severity!~^(low|medium)$", ["high", ""], ["low"]),
        ('workspace="ws \\"q\\""', ['ws "q"'], ["ws"]),
        ("workspace=", [""], ["ws-1"]),
    ],
)
def test_matchers(text, hits, misses):
    m = Matcher.parse(text)
    label = m.name
    assert all(m.matches({label: (v,)}) for v in hits)
    assert not any(m.matches({label: (v,)}) for v in misses)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sevrity=high", "unknown label 'sevrity'"),
        ("severity high", "bad matcher"),
        ('severity=~"(high"', "bad regex"),
    ],
)
def test_bad_matchers_say_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        Matcher.parse(text)


def test_every_problem_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text(
        "route:\n  receiver: nobody\n  group_wait: soon\n  routes:\n"
        "    - matchers: [sevrity=high]\n      receiver: pager\n"
        "    - matchers: [rule=x]\n      group_by: [rules]\n      recevier: pager\n"
    )
    with pytest.raises(RoutingError) as err:
        load_routes(path, RECEIVERS)
    text = str(err.value)
    assert "routes.yaml:9 route.routes[1].recevier: Extra inputs are not permitted" in text
    bad_tree = path.read_text().replace("      recevier: pager\n", "")
    path.write_text(bad_tree)
    with pytest.raises(RoutingError) as err:
        load_routes(path, RECEIVERS)
    text = str(err.value)
    assert "routes.yaml:2 route.receiver: unknown receiver 'nobody'" in text
    assert "routes.yaml:3 route.group_wait: bad duration 'soon'" in text
    assert "routes.yaml:5 route.routes[0].matchers[0]: unknown label 'sevrity'" in text
    assert "routes.yaml:8 route.routes[1].group_by: unknown label 'rules'" in text


def test_root_must_match_everything_and_name_a_receiver(tmp_path: Path):
    path = tmp_path / "routes.yaml"
    path.write_text("route:\n  matchers: [rule=x]\n")
    with pytest.raises(RoutingError, match="cannot have matchers") as err:
        load_routes(path, RECEIVERS)
    assert "needs a receiver" in str(err.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), (45, 45), ("500ms", 0.5)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_cli_routes_test_prints_the_receivers(tree, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("SECMON_CONFIG", raising=False)
    path = tmp_path / "routes.yaml"
    path.write_text(TREE)
    assert main(["routes", "test", "--routes", str(path), "severity=high", "rule=ssh_root_login"]) == 0
    assert capsys.readouterr().out.strip() == "pager,internal-hook"
    assert main(["routes", "test", "--routes", str(path), "--expect", "pager", "severity=high"]) == 1
    assert main(["routes", "test", "--routes", str(path), "-v", "severity=critical", "maturity=experimental"]) == 0
    out = capsys.readouterr()
    assert out.out.strip().endswith("internal-hook")


EXAMPLE = Path(__file__).parents[4] / "examples" / "routes.yaml"
EXAMPLE_RECEIVERS = {
    "security-webhook": SimpleNamespace(kind="webhook", pages=False),
    "identity-slack": SimpleNamespace(kind="slack", pages=False),
    "platform-slack": SimpleNamespace(kind="slack", pages=False),
    "oncall-pagerduty": SimpleNamespace(kind="pagerduty", pages=True),
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"rule": "signin_bruteforce_user", "severity": "high", "maturity": "stable"},
            ["oncall-pagerduty", "identity-slack", "security-webhook"],
        ),
        (
            {"rule": "signin_new_device", "severity": "high", "maturity": "experimental"},
            ["identity-slack", "security-webhook"],
        ),  # never paged
        ({"rule": "signin_new_device", "severity": "low", "maturity": "stable"}, ["security-webhook"]),
        ({"rule": "delivery_failed", "severity": "high", "maturity": "stable"}, ["platform-slack"]),
        (
            {"rule": "cloud_console_login_without_mfa", "severity": "critical", "maturity": "stable"},
            ["oncall-pagerduty", "security-webhook"],
        ),
    ],
)
def test_the_shipped_example_routes(given, expected):
    tree = load_routes(EXAMPLE, EXAMPLE_RECEIVERS)
    a = alert(rule=given["rule"], severity=given["severity"], maturity=given["maturity"], tags=())
    assert [d.receiver for d in tree.destinations(a) if not d.blocked] == expected


@pytest.mark.parametrize(
    "value",
    [
        [["alert_id", "0123abc"], ["rule", "signin_bruteforce_user"]],
        ["hook", '0|hook|[["user","a\\"b\\\\c"]]', [["x", [3, "open"]]]],
        [["entity", "tab\there\nnl\x00\x1f\x7f/<>&'"]],
        [["entity", "ünïcødé"], ["team", "東京"]],
        [["n", 2**70], ["count", 3]],
    ],
)
def test_group_keys_and_notification_ids_keep_the_json_modules_text(value):
    assert compact_json(value) == json.dumps(value, separators=(",", ":"))
