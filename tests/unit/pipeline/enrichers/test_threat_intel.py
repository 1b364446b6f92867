"""Threat-intel lists: parsing (text, CSV), matching source/destination, reload on change, provenance.

Reloads here run in the calling thread (background=False); test_threat_intel_reload.py covers the
background ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.enrichers.base import enrich
from pipeline.enrichers.threat_feeds import FeedError, Indicator, new_indicators, read_feed
from pipeline.enrichers.threat_intel import ThreatIntel, ThreatIntelEnricher, build
from pipeline.settings import EnrichSettings
from tests.factories import signin

DATA = Path(__file__).parents[3] / "data" / "enrichment"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lists(tmp_path) -> list[Path]:
    return [Path(shutil.copy(DATA / name, tmp_path / name)) for name in ("tor_exits.txt", "abuse.csv")]


@pytest.fixture
def intel(lists) -> ThreatIntel:
    return ThreatIntel(lists, cache_size=1024, check_seconds=0, background=False)


def rewrite(path: Path, text: str) -> None:
    """Replace a list atomically, as the docs ask, with a visibly newer mtime."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    stat = path.stat()
    os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    tmp.replace(path)


def matches(intel: ThreatIntel, **fields) -> list[dict]:
    event = signin(**fields)
    intel.apply(event)
    return [m.model_dump(exclude_none=True) for m in (event.threat.enrichments if event.threat else [])]


def test_text_list_with_comments_descriptions_and_bad_lines():
    feed = read_feed(DATA / "tor_exits.txt")
    assert [(ind.feed, ind.name, ind.description) for ind in feed.indicators] == [
        ("tor_exits", "185.220.101.0/24", "tor exits, Stiftung Erneuerbare Freiheit"),
        ("tor_exits", "185.220.101.45", "busy exit"),
        ("tor_exits", "2a0b:f4c2::/32", "tor exits over IPv6"),
    ]
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in feed.problems] == ["6", "7", "8"]
    assert "does not appear to be an IPv4 or IPv6 network" in feed.problems[1]


def test_csv_list_with_feed_and_description_columns():
    feed = read_feed(DATA / "abuse.csv")
    assert [(ind.feed, ind.name, ind.description) for ind in feed.indicators] == [
        ("abuse", "45.155.205.233", "credential stuffing source"),
        ("abuse", "198.51.100.0/24", "documentation block listed by mistake"),
        ("botnet", "2001:db8:bad::/48", "botnet C2 (v6)"),
    ]
    assert len(feed.problems) == 2 and all(p.startswith(str(DATA / "abuse.csv") + ":") for p in feed.problems)


@pytest.mark.parametrize("column", ["ip", "CIDR", "indicator"])
def test_csv_address_column_names(tmp_path, column):
    path = tmp_path / "x.csv"
    path.write_text(f"first_seen,{column}\n2026-11-01,192.0.2.0/25\n")
    assert [ind.name for ind in read_feed(path).indicators] == ["192.0.2.0/25"]


def test_csv_without_address_column_is_refused_with_location(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("host,description\nexample.com,nope\n")
    with pytest.raises(FeedError, match=r"bad\.csv:1: .* no ip/cidr/indicator column"):
        read_feed(path)


def test_missing_lists_are_reported_together(tmp_path):
    with pytest.raises(FeedError) as err:
        ThreatIntel([tmp_path / "a.txt", tmp_path / "b.txt"])
    assert "a.txt" in str(err.value) and "b.txt" in str(err.value)


def test_source_match_most_specific_per_list(intel):
    assert matches(intel, **{"source.ip": "185.220.101.45"}) == [
        {
            "indicator": {
                "ip": "185.220.101.45",
                "type": "ipv4-addr",
                "name": "185.220.101.45",
                "description": "busy exit",
            },
            "feed": {"name": "tor_exits"},
            "matched": {"field": "source.ip"},
        }
    ]
    assert matches(intel, **{"source.ip": "185.220.101.7"})[0]["indicator"]["name"] == "185.220.101.0/24"


def test_destination_and_ipv6_match_and_related_ip(intel):
    event = signin(
        **{"source.ip": "45.155.205.233", "destination.ip": "2001:db8:bad::10", "related.ip": ["45.155.205.233"]}
    )
    intel.apply(event)
    found = [(m.feed.name, m.matched.field, m.indicator.type) for m in event.threat.enrichments]
    assert found == [("abuse", "source.ip", "ipv4-addr"), ("botnet", "destination.ip", "ipv6-addr")]
    assert event.related.ip == ["45.155.205.233", "2001:db8:bad::10"]


def test_no_match_leaves_event_alone(intel):
    event = signin(**{"source.ip": "8.8.8.8"})
    intel.apply(event)
    assert event.threat is None and event.related.ip == []


def test_malformed_address_matches_nothing(intel):
    event = signin()
    event.source.ip = "010.1.1.1"  # unvalidated assignment
    intel.apply(event)
    assert event.threat is None


def test_reload_when_a_file_changes_not_before_the_check_interval(lists):
    clock = Clock()
    added: list[set[Indicator]] = []
    intel = ThreatIntel(lists, check_seconds=30, clock=clock, on_new=added.append, background=False)
    enricher = ThreatIntelEnricher(intel)
    first = enricher.stamp
    rewrite(lists[0], "185.220.101.0/24\n203.0.113.0/24  # new\n")
    assert matches(intel, **{"source.ip": "203.0.113.5"}) == []  # not checked yet
    clock.now += 31
    assert matches(intel, **{"source.ip": "203.0.113.5"})[0]["indicator"]["name"] == "203.0.113.0/24"
    assert matches(intel, **{"source.ip": "185.220.101.45"})[0]["indicator"]["name"] == "185.220.101.0/24"
    assert added == [{Indicator.of("tor_exits", "203.0.113.0/24", "new")}] == [intel.last_added]
    assert enricher.stamp != first and enricher.stamp == f"threat_intel@{intel.version}"


def test_unchanged_files_are_not_reread(intel):
    version = intel.version
    assert intel.reload() is False and intel.version == version


def test_vanished_or_broken_file_keeps_the_last_good_version(intel, lists):
    lists[0].unlink()
    rewrite(lists[1], "host\nexample.com\n")
    assert intel.reload() is False
    assert matches(intel, **{"source.ip": "185.220.101.45"}) and matches(intel, **{"source.ip": "45.155.205.233"})


def test_new_indicators_is_the_diff_by_feed_and_block():
    old = {Indicator.of("a", "192.0.2.0/24", "x"), Indicator.of("a", "198.51.100.1")}
    new = {
        Indicator.of("a", "192.0.2.0/24", "changed description"),
        Indicator.of("b", "198.51.100.1"),
        Indicator.of("a", "203.0.113.0/24"),
    }
    assert new_indicators(old, new) == {Indicator.of("b", "198.51.100.1"), Indicator.of("a", "203.0.113.0/24")}
    added = new_indicators([tuple(i) for i in old], [tuple(i) for i in new])  # rows, as the index holds them
    assert {(type(i), i.name) for i in added} == {(Indicator, "198.51.100.1"), (Indicator, "203.0.113.0/24")}


def test_version_is_a_digest_of_the_lists(lists, tmp_path):
    one = ThreatIntel(lists).version
    assert one == ThreatIntel(list(reversed(lists))).version and len(one) == 16
    rewrite(lists[1], "ip\n192.0.2.1\n")
    assert ThreatIntel(lists).version != one


def test_build_from_settings_and_provenance(lists):
    assert build(EnrichSettings()) is None
    enricher = build(EnrichSettings(threat_intel=lists, cache_size=0))
    event = enrich(signin(**{"source.ip": "185.220.101.1"}), [enricher])
    assert event.secmon.enrichment == [f"threat_intel@{enricher.intel.version}"]
    assert event.threat.enrichments[0].feed.name == "tor_exits"


def test_csv_that_cannot_be_parsed_is_a_feed_error(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("ip\n" + "x" * 200_000 + "\n")  # over csv's field size limit
    with pytest.raises(FeedError, match="not a readable CSV list"):
        read_feed(path)
