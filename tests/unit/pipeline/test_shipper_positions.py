"""The shipper's file-position logic, without Kafka: partial lines, oversized lines, resume rules."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline.shipper import Position, PositionStore, _complete_lines, _resume


def lines(data: bytes, final: bool, max_bytes: int = 100) -> tuple[list[tuple[int, bytes, int]], int]:
    stream = io.BytesIO(data)
    found = list(_complete_lines(stream, max_bytes, final))
    return found, stream.tell()


def test_a_partial_last_line_waits_for_its_writer():
    found, pos = lines(b"one\ntwo\nthr", final=False)
    assert [x[1] for x in found] == [b"one", b"two"]
    assert pos == 8  # the position stays before the unfinished line


def test_a_partial_last_line_counts_at_end_of_input():
    found, _ = lines(b"one\nthr", final=True)
    assert [x[1] for x in found] == [b"one", b"thr"]


def test_offsets_are_byte_offsets_of_each_line():
    found, _ = lines(b"a\r\nbb\nccc\n", final=True)
    assert [(o, line, n) for o, line, n in found] == [(0, b"a", 3), (3, b"bb", 6), (6, b"ccc", 10)]


def test_an_oversized_line_is_cut_and_the_next_line_survives():
    found, _ = lines(b"x" * 250 + b"\nnext\n", final=True, max_bytes=100)
    assert len(found[0][1]) == 101 and found[0][2] == 251
    assert found[1][1] == b"next"


def test_resume_continues_the_same_file(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 300 + b"\n")
    with open(path, "rb") as stream:
        first = _resume(stream, str(path), None)
        first.offset = 301
        PositionStore(tmp_path / "state").save(first)
        again = _resume(stream, str(path), PositionStore(tmp_path / "state").load(str(path)))
    assert again.offset == 301 and again.file_id == first.file_id


def test_truncation_starts_a_new_generation_with_a_new_id(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(b"y" * 300 + b"\n")
    with open(path, "rb") as stream:
        saved = Position(path=str(path), inode=path.stat().st_ino, fingerprint="other", generation=0, offset=5000)
        fresh = _resume(stream, str(path), saved)
    assert fresh.offset == 0 and fresh.generation == 1 and fresh.file_id != saved.file_id
