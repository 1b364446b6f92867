"""User agent -> device type."""

from __future__ import annotations

import json

import pytest

from pipeline.enrichers.device import ENRICHER, classify
from pipeline.normalizers import app_signin
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.process import process_record
from schemas.event import Origin
from tests.factories import signin

UAS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36": "desktop",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15": "desktop",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "mobile",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36": "mobile",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1": "tablet",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36": "tablet",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": "bot",
    "curl/8.5.0": "cli",
    "python-requests/2.32.3": "cli",
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12": "cli",
    "Go-http-client/1.1": "cli",
    "": "unknown",
    "SomethingNobodyKnows/0.1": "unknown",
}


@pytest.mark.parametrize(("ua", "kind"), UAS.items())
def test_classify(ua: str, kind: str):
    assert classify(ua)[0] == kind


def test_enricher_fills_user_agent_fields():
    event = signin(**{"user_agent.original": next(iter(UAS))})
    ENRICHER.apply(event)
    assert event.secmon.device.type == "desktop"
    assert event.user_agent.name == "Chrome" and event.user_agent.os.name == "Windows"


def test_no_user_agent_leaves_event_alone():
    event = signin()
    ENRICHER.apply(event)
    assert event.secmon.device is None


def test_overlong_device_name_is_cut_and_named_not_an_error():
    # issue 18: a fuzzed web log line whose Android build name is over 1,024 characters used to fail the
    # UaDevice model (internal_error, a dead letter and a traceback per line)
    ua = "Mozilla/5.0 (Linux; Android 10; " + "D" * 1100 + " Build/QP1A) Mobile"
    line = {
        "timestamp": "2026-12-01T08:00:00Z",
        "user": "ana@example.com",
        "outcome": "success",
        "source_ip": "198.51.100.7",
        "user_agent": ua,
    }
    record = RawRecord(json.dumps(line).encode(), Origin(source="app_signin", file="t.jsonl", offset=0))
    result = process_record(record, app_signin.NORMALIZER, [ENRICHER], ParseOptions())
    assert result.dead_letter is None
    (event,) = result.events
    assert event.user_agent.device.name == "D" * 1024
    assert event.secmon.truncated == ["user_agent.device.name"]
    assert event.user_agent.original == ua
