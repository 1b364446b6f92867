"""Sigma rules through the embedded runtime: alert fields, dedup, shadow mode, mapped datasets."""

from __future__ import annotations

from detectors.engine import Engine
from detectors.sigma.config import SigmaSettings
from detectors.sigma.stream import build
from detectors.state import DictStore
from pipeline import embedded
from pipeline.settings import SecmonSettings
from schemas.event import Event
from tests.unit.detectors.sigma.helpers import FIXTURES, SHARED
from tests.unit.detectors.sigma.test_correlation import failure

INVICTUS = SHARED / "invictus_cloudtrail" / "invictus_aws_dataset_subset.ndjson"
NO_MFA = "sigma-77caf516-34e5-4df9-b4db-20744fea0a60"  # SigmaHQ: AWS Successful Console Login Without MFA


def settings(*dirs) -> SecmonSettings:
    s = SecmonSettings()
    s.parse.keep_original = True
    s.detection.sigma.rules_dirs = list(dirs)
    return s


def sigma_alerts(summary):
    return {a.rule.id: a for a in summary.alerts.values() if a.rule.ruleset == "sigma"}


def test_sigmahq_cloudtrail_rules_alert_like_secmon_detectors():
    summary = embedded.run([str(INVICTUS)], settings(SHARED / "sigmahq_rules" / "rules" / "cloud"), source="cloudtrail")
    alerts = sigma_alerts(summary)
    alert = alerts[NO_MFA]
    assert alert.rule.name == "AWS Successful Console Login Without MFA"
    assert alert.alert.severity == "medium"
    assert alert.rule.maturity == "experimental"  # status experimental: shadow mode, never paged
    assert "attack.t1078.004" in alert.rule.tags and alert.rule.reference
    assert alert.user.name == "stratus-red-team-nmfalu-gfjyeaypjt" and alert.cloud.account.id == "123837392027"
    assert "cloud_console_login_without_mfa" in {a.rule.id for a in summary.alerts.values()}  # ours still runs
    assert max(a.alert.count for a in alerts.values()) > 1  # matches of one entity merge into one alert


def test_mapped_rules_alert_on_normalized_web_and_zeek_events():
    s = settings(FIXTURES / "rules" / "ecs_rules.yml")
    web = sigma_alerts(embedded.run([str(FIXTURES / "web_attacks.log")], s, source="web_access"))
    assert list(web) == ["sigma-5e3f7a52-1d0c-4f7e-9a41-6b2d8c9e0f03"]
    assert web["sigma-5e3f7a52-1d0c-4f7e-9a41-6b2d8c9e0f03"].source.ip == "203.0.113.22"


def test_no_rules_dirs_changes_nothing():
    plain = embedded.run([str(INVICTUS)], SecmonSettings(), source="cloudtrail")
    assert not sigma_alerts(plain)


def test_a_detect_worker_with_a_fresh_event_copy_finds_the_same_match():
    detectors = build(SigmaSettings(rules_dirs=[FIXTURES / "rules"]), keep_original=True)
    router_side = Engine(detectors=detectors, store=DictStore(), strict=True)
    detect_side = Engine(detectors=detectors, store=DictStore(), strict=True)
    alerts = []
    for minute in range(5):
        event = failure(minute)
        for detector_id, entity in router_side.routes(event):  # as index_events routes
            copy = Event.model_validate_json(event.model_dump_json(by_alias=True))  # the detect topic
            alerts += detect_side.process_keyed(detector_id, entity, copy)
    assert [a.rule.id for a in alerts] == ["sigma-0b9c5c0e-6a35-4a1e-9f61-3f0c2a4b5d11"]
