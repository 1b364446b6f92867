"""GeoIP/ASN enrichment: built-in geoip2fast + plevin data, MaxMind .mmdb files, and every special address class."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from detectors.rules import signin_new_asn
from pipeline.enrichers.base import enrich
from pipeline.enrichers.geoip import GeoLookup, build, builtin_asn_database, databases
from pipeline.enrichers.registry import default_enrichers
from pipeline.settings import EnrichSettings, SecmonSettings
from tests.data.enrichment.build_mmdb import write_databases
from tests.factories import signin

SPECIAL = {
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "private",
    "fd00::1": "private",
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "169.254.169.254": "link_local",
    "fe80::1": "link_local",
    "fe80::1%eth0": "link_local",
    "224.0.0.251": "multicast",
    "239.1.2.3": "multicast",
    "ff02::1": "multicast",
    "192.0.2.1": "documentation",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "2001:db8::1": "documentation",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "0.1.2.3": "reserved",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "198.18.0.1": "reserved",
    "192.0.0.8": "reserved",
    "2001::1": "reserved",
    "100::1": "reserved",
    "64:ff9b::808:808": "reserved",
    "4000::1": "reserved",
}


@pytest.fixture(scope="module")
def builtin():
    return build(EnrichSettings())


@pytest.fixture(scope="module")
def mmdb_paths(tmp_path_factory) -> tuple[Path, Path]:
    return write_databases(tmp_path_factory.mktemp("mmdb"))


@pytest.fixture(scope="module")
def mmdb(mmdb_paths):
    city, asn = mmdb_paths
    return build(EnrichSettings(geoip_city_db=city, geoip_asn_db=asn))


def enriched(enricher, **fields):
    event = signin(**fields)
    enricher.apply(event)
    return event


@pytest.mark.parametrize(
    ("ip", "country", "as_number", "as_name"),
    [
        ("8.8.8.8", "US", 15169, "google"),
        ("1.1.1.1", "AU", 13335, "cloudflare"),  # GeoLite2 places it where APNIC registered it
        ("9.9.9.9", "US", 19281, "quad9"),
        ("2001:4860:4860::8888", "US", 15169, "google"),
        ("2606:4700:4700::1111", "US", 13335, "cloudflare"),
        ("::ffff:8.8.8.8", "US", 15169, "google"),  # IPv4-mapped: looked up as IPv4
    ],
)
def test_builtin_databases_know_well_known_public_addresses(builtin, ip, country, as_number, as_name):
    event = enriched(builtin, **{"source.ip": ip})
    assert event.source.geo.country_iso_code == country
    assert event.source.as_.number == as_number
    assert as_name in event.source.as_.organization.name.lower()
    assert event.secmon.address_scope.source == "public"


def test_builtin_as_numbers_feed_signin_new_asn(builtin):
    assert signin_new_asn.asn(enriched(builtin, **{"source.ip": "1.1.1.1"})) == "AS13335"


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.0.2.1", "2001:db8::1", "0.0.0.1", "fe80::1", "4000::1"])
def test_builtin_asn_database_answers_nothing_for_unrouted_space(ip):
    assert builtin_asn_database().lookup(ip) == {}  # the enricher never asks, but must not crash if it did


def test_builtin_version_names_packages_and_data(builtin):
    countries, asns = builtin.version.split("+")
    assert countries.startswith("geoip2fast-1.") and countries[-8:].isdigit()
    assert asns.startswith("plevin-db-network-20")


@pytest.mark.parametrize(("ip", "scope"), SPECIAL.items())
@pytest.mark.parametrize("config", ["builtin", "mmdb"])
def test_special_addresses_are_marked_and_never_looked_up(request, config, ip, scope):
    event = enriched(request.getfixturevalue(config), **{"source.ip": ip, "destination.ip": ip})
    assert (event.secmon.address_scope.source, event.secmon.address_scope.destination) == (scope, scope)
    assert event.source.geo is None and event.source.as_ is None
    assert event.destination.geo is None and event.destination.as_ is None


@pytest.mark.parametrize("text", ["010.1.1.1", "1.2.3", "0x7f.0.0.1", "8.8.8.8.8", "example.com", ""])
def test_malformed_addresses_are_rejected_at_parse_time(text):
    with pytest.raises(ValidationError):
        signin(**{"source.ip": text})


@pytest.mark.parametrize("text", ["010.1.1.1", "1.2.3", "0x7f.0.0.1", "::ffff::1", "example.com"])
def test_malformed_address_that_bypassed_validation_is_marked_not_misread(builtin, text):
    event = signin()
    event.source.ip = text  # assignment is not validated: an enricher must still cope
    builtin.apply(event)
    # inet_aton would read 010.1.1.1 as 8.1.1.1 and geoip2fast would answer US
    assert event.secmon.address_scope.source == "malformed" and event.source.geo is None


def test_mmdb_city_and_asn_ipv4(mmdb):
    source = enriched(mmdb, **{"source.ip": "81.2.69.160"}).source
    assert source.geo.model_dump(exclude_none=True) == {
        "country_iso_code": "GB",
        "country_name": "United Kingdom",
        "city_name": "London",
        "region_name": "England",
        "location": {"lat": 51.5142, "lon": -0.0931},
        "accuracy_radius_km": 10,
    }
    assert (source.as_.number, source.as_.organization.name) == (20712, "Andrews & Arnold Ltd")


def test_mmdb_city_and_asn_ipv6_on_destination(mmdb):
    destination = enriched(mmdb, **{"destination.ip": "2a02:cf40::77"}).destination
    assert (destination.geo.city_name, destination.geo.country_iso_code) == ("Oslo", "NO")
    assert destination.as_.number == 12345


def test_mmdb_address_not_in_database_gets_scope_only(mmdb):
    event = enriched(mmdb, **{"source.ip": "8.8.8.8"})
    assert event.secmon.address_scope.source == "public" and event.source.geo is None and event.source.as_ is None


def test_mmdb_version_is_database_type_and_build_epoch(mmdb):
    city, asn = mmdb.version.split("+")
    assert city.startswith("GeoLite2-City-") and asn.startswith("GeoLite2-ASN-") and city.rsplit("-", 1)[1].isdigit()


def test_city_mmdb_with_builtin_asn(mmdb_paths):
    lookup = GeoLookup(databases(EnrichSettings(geoip_city_db=mmdb_paths[0])), cache_size=16)
    assert lookup.version.startswith("plevin-db-network-") and "+GeoLite2-City-" in lookup.version
    _scope, place = lookup.resolve("89.160.20.112")
    assert place.city_name == "Linköping" and place.as_number and place.as_name  # AS from the built-in data


def test_no_database_still_marks_scopes():
    lookup = GeoLookup(databases(EnrichSettings(geoip_builtin=False)), cache_size=16)
    assert lookup.version == "scope-only"
    assert lookup.resolve("8.8.8.8") == ("public", None) and lookup.resolve("10.0.0.1") == ("private", None)


def test_missing_mmdb_says_which_setting(tmp_path):
    with pytest.raises(FileNotFoundError, match="enrich.geoip_city_db .* does not exist"):
        build(EnrichSettings(geoip_city_db=tmp_path / "nope.mmdb"))


def test_swapped_mmdb_paths_are_refused(mmdb_paths):
    city, asn = mmdb_paths
    with pytest.raises(ValueError, match="swapped"):
        build(EnrichSettings(geoip_city_db=asn, geoip_asn_db=city))


def test_not_an_mmdb_is_refused(tmp_path):
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(ValueError, match="not a readable MaxMind database"):
        build(EnrichSettings(geoip_asn_db=junk))


def test_geo_set_by_the_source_is_kept(mmdb):
    event = enriched(mmdb, **{"source.ip": "81.2.69.160", "source.geo.country_iso_code": "FR"})
    assert event.source.geo.country_iso_code == "FR" and event.source.as_.number == 20712


def test_only_source_and_destination_are_enriched(mmdb):
    event = enriched(mmdb, **{"source.ip": None, "host.ip": ["81.2.69.160"]})
    assert event.secmon.address_scope is None and event.source.geo is None and event.host.ip == ["81.2.69.160"]


def test_cached_places_are_not_shared_between_events(mmdb):
    first = enriched(mmdb, **{"source.ip": "81.2.69.160"})
    second = enriched(mmdb, **{"source.ip": "81.2.69.160"})
    assert first.source.geo == second.source.geo and first.source.geo is not second.source.geo


def test_cache_size_zero_disables_caching(mmdb_paths):
    lookup = GeoLookup(databases(EnrichSettings(geoip_asn_db=mmdb_paths[1], geoip_builtin=False)), cache_size=0)
    assert lookup.resolve("81.2.69.1") == lookup.resolve("81.2.69.1")
    assert lookup.resolve.cache_info().currsize == 0


def test_stamp_lands_in_provenance(builtin):
    event = enrich(signin(**{"source.ip": "8.8.8.8"}), [builtin])
    assert event.secmon.enrichment == [f"geoip@{builtin.version}"]


def test_registry_order_device_geoip_threat_intel(tmp_path):
    feed = tmp_path / "feed.txt"
    feed.write_text("192.0.2.1\n")
    assert [e.name for e in default_enrichers(SecmonSettings())] == ["device", "geoip"]
    settings = SecmonSettings(enrich={"threat_intel": [feed]})
    assert [e.name for e in default_enrichers(settings)] == ["device", "geoip", "threat_intel"]
