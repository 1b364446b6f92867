"""Threat-intel reloads off the event path: old lists until the swap, one swap, failures keep the lists."""

from __future__ import annotations

import gc
import random
import shutil
import threading
import time
from pathlib import Path

import pytest

from pipeline.enrichers import threat_intel
from pipeline.enrichers.threat_feeds import Indicator
from pipeline.enrichers.threat_intel import ThreatIntel, ThreatIntelEnricher
from tests.factories import signin
from tests.unit.pipeline.enrichers.test_threat_intel import DATA, Clock, rewrite

BIG_LIST = 100_000  # a 1-3 s build here; how long calls take meanwhile is measured by bench/intel_reload.py


class Gate:
    """Holds every background build once it has read a list, until opened."""

    def __init__(self) -> None:
        self.reached, self.opened = threading.Event(), threading.Event()

    def open(self) -> None:
        self.opened.set()


@pytest.fixture
def gate(monkeypatch):
    gate, read = Gate(), threat_intel.read_feed

    def held(path: Path) -> threat_intel.FeedFile:
        feed = read(path)
        if threading.current_thread() is not threading.main_thread():
            gate.reached.set()
            gate.opened.wait(30)
        return feed

    monkeypatch.setattr(threat_intel, "read_feed", held)
    yield gate
    gate.open()  # never leave a build thread waiting


@pytest.fixture
def lists(tmp_path) -> list[Path]:
    return [Path(shutil.copy(DATA / name, tmp_path / name)) for name in ("tor_exits.txt", "abuse.csv")]


def names(intel: ThreatIntel, ip: str) -> list[str]:
    event = signin(**{"source.ip": ip})
    intel.apply(event)
    return [m.indicator.name for m in event.threat.enrichments] if event.threat else []


def eventually(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_events_match_the_old_lists_until_the_new_table_is_swapped_in(lists, gate):
    added: list[set[Indicator]] = []
    intel = ThreatIntel(lists, check_seconds=3600, on_new=added.append)
    enricher = ThreatIntelEnricher(intel)
    version, stamp = intel.version, enricher.stamp
    rewrite(lists[0], "203.0.113.0/24  # new\n")  # and 185.220.101.0/24 is delisted
    assert intel.reload(block=False) is False and intel.reloading
    assert gate.reached.wait(30)
    for _ in range(3):
        assert names(intel, "185.220.101.7") == ["185.220.101.0/24"] and names(intel, "203.0.113.5") == []
    assert (intel.version, enricher.stamp, intel.last_added, added) == (version, stamp, set(), [])
    gate.open()
    assert intel.wait(timeout=30) is True and not intel.reloading
    assert intel.version != version and enricher.stamp == f"threat_intel@{intel.version}"
    assert names(intel, "203.0.113.5") == ["203.0.113.0/24"] and names(intel, "185.220.101.7") == []
    assert added == [{Indicator.of("tor_exits", "203.0.113.0/24", "new")}] == [intel.last_added]
    assert intel.wait() is False and intel.maybe_reload() is False and intel.reload() is False
    assert len(added) == 1  # reported once


def test_apply_only_starts_the_check_and_a_later_call_swaps_the_table_in(lists, gate):
    clock = Clock()
    intel = ThreatIntel(lists, check_seconds=30, clock=clock)
    rewrite(lists[0], "185.220.101.0/24\n203.0.113.0/24\n")
    assert names(intel, "203.0.113.5") == [] and not intel.reloading  # not checked yet
    clock.now += 31
    assert names(intel, "203.0.113.5") == [] and intel.reloading  # checked: the build runs beside
    gate.open()
    assert eventually(lambda: names(intel, "203.0.113.5") == ["203.0.113.0/24"])
    assert not intel.reloading


def test_a_blocking_reload_waits_for_the_running_one_and_reads_the_files_again(lists, gate):
    added: list[set[Indicator]] = []
    intel = ThreatIntel(lists, check_seconds=3600, on_new=added.append)
    rewrite(lists[0], "198.18.0.0/15  # second\n")
    intel.reload(block=False)
    assert gate.reached.wait(30)  # the running build has read the second version
    rewrite(lists[0], "192.0.2.0/24  # third\n")
    gate.open()
    assert intel.reload() is True
    assert names(intel, "192.0.2.1") == ["192.0.2.0/24"] and names(intel, "198.18.0.1") == []
    assert [{i.name for i in batch} for batch in added] == [{"198.18.0.0/15"}, {"192.0.2.0/24"}]


def test_a_bad_file_keeps_the_last_good_lists(lists, caplog):
    intel = ThreatIntel(lists, check_seconds=3600)
    version = intel.version
    rewrite(lists[1], "host,description\nexample.com,nope\n")
    intel.reload(block=False)
    assert intel.wait(timeout=30) is False and intel.version == version
    assert names(intel, "45.155.205.233") == ["45.155.205.233"]
    assert "abuse.csv not reloaded, keeping the last good version" in caplog.text
    assert "no ip/cidr/indicator column" in caplog.text


def test_a_failed_build_keeps_the_lists_and_the_next_check_retries(lists, caplog, monkeypatch):
    intel = ThreatIntel(lists, check_seconds=3600)
    version, build = intel.version, threat_intel.IndicatorIndex

    def broken(*_args):
        raise MemoryError

    monkeypatch.setattr(threat_intel, "IndicatorIndex", broken)
    rewrite(lists[0], "203.0.113.0/24\n")
    intel.reload(block=False)
    assert intel.wait(timeout=30) is False and intel.version == version and not intel.reloading
    assert "threat-intel reload failed, keeping the lists in use" in caplog.text
    assert names(intel, "185.220.101.7") == ["185.220.101.0/24"]
    monkeypatch.setattr(threat_intel, "IndicatorIndex", build)
    assert intel.reload() is True and names(intel, "203.0.113.5") == ["203.0.113.0/24"]


def test_the_retired_index_is_emptied_but_the_files_it_shares_are_kept(lists):
    intel = ThreatIntel(lists, check_seconds=3600)
    old = intel.index
    rewrite(lists[0], "203.0.113.0/24\n")
    assert intel.reload() is True
    assert eventually(lambda: len(old.table) == 0 and old.feeds[lists[0]].rows == [])
    assert intel.index.feeds[lists[1]] is old.feeds[lists[1]] and len(old.feeds[lists[1]].rows) == 3
    assert names(intel, "45.155.205.233") == ["45.155.205.233"] and names(intel, "203.0.113.5") == ["203.0.113.0/24"]


def test_background_mode_is_the_default_and_replays_can_build_in_the_caller(lists):
    assert ThreatIntel(lists).background and not ThreatIntel(lists, background=False).background


def test_rows_are_left_out_of_garbage_collection(lists):
    intel = ThreatIntel(lists)
    gc.collect()
    rows = list(intel.index.rows())
    assert rows and not any(gc.is_tracked(row) for row in rows)  # full collections never walk them


def big_list(count: int, seed: int = 3) -> str:
    """`count` random addresses and /24 blocks, in random order."""
    rng, lines = random.Random(seed), []
    for _ in range(count):
        a = rng.getrandbits(32)
        lines.append(
            f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.0/24\n"
            if rng.random() < 0.2
            else f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}\n"
        )
    return "".join(lines)


def test_events_enriched_while_a_big_list_reloads_match_the_old_lists_then_the_new(tmp_path):
    path = tmp_path / "big.txt"
    body = big_list(BIG_LIST)
    path.write_text(body + "198.51.100.7  # old only\n")
    added: list[set[Indicator]] = []
    intel = ThreatIntel([path], check_seconds=3600, on_new=added.append)
    enricher, version = ThreatIntelEnricher(intel), intel.version
    rewrite(path, body + "203.0.113.7  # new only\n")
    events = signin(**{"source.ip": "198.51.100.7"}), signin(**{"source.ip": "203.0.113.7"})
    # fresh copies that die after the call, as in the pipeline
    calls, stale = 0, 0
    started = time.perf_counter()
    intel.reload(block=False)
    while intel.version == version and time.perf_counter() - started < 300:
        old_only, new_only = (event.model_copy(deep=True) for event in events)
        for event in (old_only, new_only):
            enricher.apply(event)
        calls += 1
        if intel.version == version:
            stale += old_only.threat is None or new_only.threat is not None  # not the old lists
    assert intel.version != version, "the reload never finished"
    assert calls > 1 and stale == 0  # events went on during the build, all against the old lists
    assert names(intel, "203.0.113.7") == ["203.0.113.7"] and names(intel, "198.51.100.7") == []
    assert added == [{Indicator.of("big", "203.0.113.7", "new only")}] == [intel.last_added]
    assert intel.maybe_reload() is False and intel.wait() is False and len(added) == 1
