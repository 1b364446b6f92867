"""Sigma correlations in the engine, on event time: counts, distinct values, temporal and ordered sequences."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest

from detectors.engine import Engine
from detectors.sigma.config import SigmaSettings
from detectors.sigma.stream import build
from detectors.state import DictStore
from pipeline.normalizers import cloudtrail
from pipeline.normalizers.base import ParseOptions, RawRecord
from schemas.event import Origin
from tests.unit.detectors.sigma.helpers import FIXTURES

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
BRUTE_FORCE = "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d11"
SPRAY = "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d12"
TEMPORAL = "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d13"
ORDERED = "sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d14"

OFFSETS = itertools.count(1)  # each event its own record offset, so its own event id


def ct(
    name: str,
    minute: float,
    ip: str = "198.51.100.7",
    user: str = "alice",
    failed: bool = False,
    source: str = "signin.amazonaws.com",
):
    """A normalized CloudTrail event (raw record kept) `minute` minutes after T0."""
    record = {
        "eventVersion": "1.08",
        "eventTime": (T0 + timedelta(minutes=minute)).isoformat(),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": ip,
        "userIdentity": {
            "type": "IAMUser",
            "userName": user,
            "arn": f"arn:aws:iam::111122223333:user/{user}",
            "accountId": "111122223333",
        },
        "recipientAccountId": "111122223333",
    }
    if name == "ConsoleLogin":
        record["responseElements"] = {"ConsoleLogin": "Failure" if failed else "Success"}
    data = json.dumps(record).encode()
    raw = RawRecord(data=data, origin=Origin(source="cloudtrail", file="t.jsonl", file_id="t", offset=next(OFFSETS)))
    return cloudtrail.parse(raw, ParseOptions(keep_original=True))[0]


def failure(minute: float, **kw):
    return ct("ConsoleLogin", minute, failed=True, **kw)


@pytest.fixture
def engine() -> Engine:
    detectors = build(
        SigmaSettings(rules_dirs=[FIXTURES / "rules" / "cloudtrail_correlations.yml"]), keep_original=True
    )
    return Engine(detectors=detectors, store=DictStore(), strict=True, lateness=timedelta(minutes=10))


def run(engine: Engine, events) -> dict[str, list]:
    alerts: dict[str, dict] = {}
    for event in events:
        for alert in engine.process(event):
            alerts.setdefault(alert.rule.id, {})[alert.alert.id] = alert
    return {rule: list(by_id.values()) for rule, by_id in alerts.items()}


def test_building_blocks_raise_no_alerts_of_their_own(engine):
    ids = {det.meta.id for det, _ in engine.detectors}
    assert ids == {BRUTE_FORCE, SPRAY, TEMPORAL, ORDERED}


def test_five_failed_console_logins_from_one_ip_within_five_minutes(engine):
    alerts = run(engine, [failure(m) for m in (0, 1, 2, 3, 4.5)])[BRUTE_FORCE]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.alert.severity == "high" and alert.rule.ruleset == "sigma"
    assert alert.rule.name == "AWS console brute force from one IP"
    assert alert.source.ip == "198.51.100.7" and alert.secmon.event_count == 5
    assert alert.alert.first_seen == T0 + timedelta(minutes=4.5)  # event time, not processing time
    assert "attack.t1110" in alert.rule.tags


def test_five_failures_spread_over_more_than_five_minutes_do_not_count(engine):
    assert BRUTE_FORCE not in run(engine, [failure(m) for m in (0, 2, 4, 6, 8)])


def test_failures_from_different_ips_are_counted_apart(engine):
    events = [failure(m, ip=f"198.51.100.{m}") for m in range(5)]
    assert BRUTE_FORCE not in run(engine, events)


def test_late_events_count_by_their_own_time(engine):
    events = [failure(m) for m in (4, 3, 1, 2, 0)]  # replayed out of order, within the lateness
    assert len(run(engine, events)[BRUTE_FORCE]) == 1


def test_successful_logins_do_not_count(engine):
    assert BRUTE_FORCE not in run(engine, [ct("ConsoleLogin", m) for m in range(6)])


def test_value_count_distinct_users_from_one_ip(engine):
    same_user = run(engine, [failure(m, user="bob") for m in (0, 1, 2)])
    assert SPRAY not in same_user
    spray = run(engine, [failure(m, user=u) for m, u in ((3, "ann"), (4, "cid"), (5, "dee"))])[SPRAY]
    assert len(spray) == 1
    assert spray[0].rule.maturity == "experimental"  # status experimental: shadow mode, never paged


def key(minute, user="alice"):
    return ct("CreateAccessKey", minute, user=user, source="iam.amazonaws.com")


def policy(minute, user="alice"):
    return ct("AttachUserPolicy", minute, user=user, source="iam.amazonaws.com")


def test_temporal_needs_both_rules_for_one_identity_within_the_timespan(engine):
    assert TEMPORAL in run(engine, [policy(0), key(10)])
    assert TEMPORAL not in run(engine, [key(100, user="eve"), policy(130, user="eve")])
    assert TEMPORAL not in run(engine, [key(200, user="fay"), policy(201, user="gus")])


def test_temporal_ordered_needs_the_rules_in_order(engine):
    assert ORDERED not in run(engine, [policy(0), key(5)])
    assert ORDERED in run(engine, [key(10), policy(12)])


def test_alert_ids_are_deterministic():
    def ids():
        detectors = build(SigmaSettings(rules_dirs=[FIXTURES / "rules"]), keep_original=True)
        engine = Engine(detectors=detectors, store=DictStore(), strict=True)
        return sorted(a.alert.id for a in (x for e in [failure(m) for m in range(5)] for x in engine.process(e)))

    assert ids() == ids() and ids()


def test_idle_groups_are_dropped_after_their_timespan(engine):
    run(engine, [failure(0, ip="198.51.100.50")])
    assert any("198.51.100.50" in k for k in engine.store.keys())
    engine.tick(T0 + timedelta(hours=3))  # after timespan + dedup + lateness on the event clock
    run(engine, [failure(180, ip="198.51.100.51")])
    engine.tick(T0 + timedelta(hours=6))
    assert not any("198.51.100.50" in k for k in engine.store.keys())
