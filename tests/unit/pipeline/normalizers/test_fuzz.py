"""Property tests over every registered normalizer: no input makes an exception escape.

Each input yields events or a dead-letter record with a bounded code, whatever the bytes:
random bytes, truncated and mutated real lines, invalid UTF-8, 10 MB lines, deeply nested JSON,
JSON with unexpected types in every position.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record
from pipeline.readers import split_records
from schemas.deadletter import ErrorCode
from schemas.event import Origin

DATA = Path(__file__).parents[3] / "data" / "normalizers"
CTX = ParseOptions(default_year=2026)
CODES = set(ErrorCode.__args__)  # type: ignore[attr-defined]
SOURCES = sorted(NORMALIZERS)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seeds(source: str) -> list[bytes]:
    """Real-format lines of the source's golden inputs, the base for mutations."""
    lines: list[bytes] = []
    for path in sorted((DATA / source).glob("*")):
        if not path.name.endswith("-expected.json") and path.is_file():
            lines += [ln for ln in path.read_bytes().splitlines() if ln.strip()][:50]
    return lines or [b"{}"]


def check(source: str, data: bytes) -> None:
    normalizer = NORMALIZERS[source]
    origin = Origin(source=source, file="fuzz", file_id="fuzz", offset=0)
    for record in split_records(normalizer, data, origin, None, 1024 * 1024):
        result = process_record(record, normalizer, [], CTX)
        if result.dead_letter is not None:
            assert result.dead_letter.error_code in CODES
            assert not result.events
        for event in result.events:
            json.dumps(event.to_doc())  # serializable, so indexable


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("source", SOURCES)
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(source: str, data: bytes):
    check(source, data)


@pytest.mark.parametrize("source", SOURCES)
@FUZZ
@given(data=st.data())
def test_mutated_real_lines(source: str, data):
    line = data.draw(st.sampled_from(seeds(source)))
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    junk = data.draw(st.binary(max_size=8))
    where = data.draw(st.integers(min_value=0, max_value=cut))
    check(source, line[:where] + junk + line[where:cut])


@pytest.mark.parametrize("source", SOURCES)
@FUZZ
@given(data=st.data())
def test_json_with_unexpected_types(source: str, data):
    """Replace one value of a real JSON line (if the format is JSON) with any JSON value."""
    line = data.draw(st.sampled_from(seeds(source)))
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        doc = {"message": line.decode("utf-8", "replace")}
    if isinstance(doc, dict) and doc:
        key = data.draw(st.sampled_from(sorted(doc)))
        doc[key] = data.draw(json_values)
    check(source, json.dumps(doc).encode())


@pytest.mark.parametrize("source", SOURCES)
def test_huge_and_deep_inputs(source: str):
    for data in (
        b'{"timestamp": "9999-12-31T23:00:00-05:00", "ts": "0001-01-01T00:00:00+05:00"}',
        b"{" * 200_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"x" * (10 * 1024 * 1024),
        b"\xff\xfe" * 1000,
        b"\x00" * 100,
        b"{}",
        b"[]",
        b"null",
        b'"str"',
        b"1e999",
    ):
        check(source, data)


def test_oversized_lines_are_dead_lettered_not_parsed():
    normalizer = NORMALIZERS["app_signin"]
    record = RawRecord(data=b"{" + b"a" * (2 * 1024 * 1024), origin=Origin(source="app_signin"))
    result = process_record(record, normalizer, [], CTX)
    assert result.dead_letter is not None and result.dead_letter.error_code == "too_large"
