"""Golden tests for every normalizer: tests/data/normalizers/<source>/<case>.<ext> -> <case>-expected.json.

Each input is read the way the embedded runner reads it (lines or whole document) and every
record's outcome (its events, or its error code and reason) is compared with the expected file.
Normalizer output only: enrichers have their own tests, so a new GeoIP database or enricher
never rewrites these files.
Regenerate after an intended change with SECMON_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record
from pipeline.readers import read_records

DATA = Path(__file__).parents[3] / "data" / "normalizers"
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def parse_options() -> ParseOptions:
    return ParseOptions(default_year=2026)  # one per file: sshd pairs the lines of one file (its memory)


def golden_inputs() -> list[Path]:
    return sorted(p for p in DATA.glob("*/*") if p.is_file() and not p.name.endswith("-expected.json"))


def outcome(path: Path) -> list[dict]:
    normalizer = NORMALIZERS[path.parent.name]
    results, options = [], parse_options()
    for record in read_records(str(path), normalizer, 1024 * 1024):
        record = RawRecord(
            data=record.data,
            origin=record.origin.model_copy(update={"file": path.name}),
            received=RECEIVED,
            header=record.header,
        )
        processed = process_record(record, normalizer, [], options)
        if processed.dead_letter is not None:
            results.append(
                {
                    "offset": record.origin.offset,
                    "error_code": processed.dead_letter.error_code,
                    "reason": processed.dead_letter.reason,
                }
            )
        else:
            results.append({"offset": record.origin.offset, "events": [e.to_doc() for e in processed.events]})
    return results


def test_every_source_has_golden_files():
    missing = [s for s in NORMALIZERS if not (DATA / s).is_dir() or not any((DATA / s).iterdir())]
    assert not missing, f"sources without golden files under {DATA}: {missing}"


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(path: Path):
    expected_path = path.with_name(path.stem + "-expected.json")
    actual = outcome(path)
    if os.environ.get("SECMON_UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert expected_path.exists(), f"{expected_path.name} missing; create it with SECMON_UPDATE_GOLDEN=1 and review it"
    assert actual == json.loads(expected_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_format_sniffing_does_not_misidentify(path: Path):
    """Sniffing a fixture names its own source or nobody (then --source is needed), never another."""
    from pipeline.normalizers.registry import sniff
    from pipeline.readers import head

    found = sniff(head(str(path)))
    assert found is None or found.id == path.parent.name
