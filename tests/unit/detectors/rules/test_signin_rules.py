"""Sign-in detector behaviour the case files cannot show: routing filters, late events, config."""

from __future__ import annotations

import pytest

from detectors.engine import Engine
from detectors.registry import DETECTORS, DetectorConfig, configure
from detectors.state import DictStore
from schemas.errors import ConfigError
from tests.factories import signin

BERLIN = {
    "source.ip": "198.51.100.23",
    "source.geo.city_name": "Berlin",
    "source.geo.country_iso_code": "DE",
    "source.geo.location.lat": 52.52,
    "source.geo.location.lon": 13.405,
}
SYDNEY = {
    "source.ip": "203.0.113.80",
    "source.geo.city_name": "Sydney",
    "source.geo.country_iso_code": "AU",
    "source.geo.location.lat": -33.8688,
    "source.geo.location.lon": 151.2093,
}


def test_success_only_detectors_are_not_routed_failures():
    routed = {det_id for det_id, det in DETECTORS.items() if det.entity_key(signin(**{"event.outcome": "failure"}))}
    # source_silent hears every event of every source, by design
    # anomaly_signin counts failures towards the next success ("failures before")
    assert routed - {"source_silent"} == {
        "signin_bruteforce_ip",
        "signin_bruteforce_user",
        "signin_password_spray",
        "signin_success_after_failures",
        "anomaly_signin",
    }


def test_signin_without_mfa_is_routed_only_what_can_alert():
    det = DETECTORS["signin_without_mfa"]
    assert det.entity_key(signin(**{"event.outcome": "success", "secmon.auth.mfa": False})) == "bob@acme.example"
    assert det.entity_key(signin(**{"event.outcome": "success", "secmon.auth.mfa": True})) is None
    assert det.entity_key(signin(**{"event.outcome": "success"})) is None


def test_impossible_travel_names_the_later_sign_in_when_the_earlier_arrives_late():
    det = DETECTORS["signin_impossible_travel"]
    engine = Engine(detectors=[(det, det.params())], store=DictStore())
    assert (
        engine.process(
            signin(
                **{"@timestamp": "2026-11-30T09:00:00+00:00", "event.id": "syd", "event.outcome": "success", **SYDNEY}
            )
        )
        == []
    )
    alerts = engine.process(
        signin(**{"@timestamp": "2026-11-30T08:58:00+00:00", "event.id": "ber", "event.outcome": "success", **BERLIN})
    )
    assert [a.source.ip for a in alerts] == ["203.0.113.80"]
    assert alerts[0].secmon.event_ids == ["ber", "syd"]
    assert "Berlin, DE (198.51.100.23) -> Sydney, AU (203.0.113.80)" in alerts[0].message


def test_parameters_come_from_the_configuration_and_typos_are_reported():
    chosen = {
        d.meta.id: p
        for d, p in configure(
            {
                "signin_impossible_travel": DetectorConfig(params={"ignore_asns": [9009, 60068], "min_km": 800}),
                "signin_without_mfa": DetectorConfig(
                    params={"required_for_all": False, "required_workspaces": ["ws-acme"]}
                ),
            }
        )
    }
    assert chosen["signin_impossible_travel"].ignore_asns == [9009, 60068]
    assert chosen["signin_new_country"].learning_days == 14
    with pytest.raises(ConfigError) as err:
        configure(
            {
                "signin_password_spray": DetectorConfig(params={"min_user": 5}),
                "signin_new_device": DetectorConfig(params={"max_values": 0}),
            }
        )
    assert "signin_password_spray.params.min_user" in str(err.value)
    assert "signin_new_device.params.max_values" in str(err.value)
