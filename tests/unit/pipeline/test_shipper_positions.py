"""The shipper's file-position logic, without Kafka: partial lines, oversized lines, resume rules,
and the positions a version-1 shipper saved (read as they were meant: same file, same offset,
same file id)."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pytest

from pipeline.readers import file_identity, read_lines
from pipeline.shipper_positions import Position, PositionStore, resume_position

# what the version-1 shipper digested for CONTENT and SMALL (its _fingerprint, at the time)
CONTENT = b"".join(b'{"n": %d, "user": "line%d@ws.example"}\n' % (i, i) for i in range(40))
V1_FINGERPRINT = "ff920c45a332"
SMALL, V1_SMALL_FINGERPRINT = b'{"n": 0}\n', "10aa3eccc314"


def lines(data: bytes, final: bool, max_bytes: int = 100) -> tuple[list[tuple[int, bytes, int]], int]:
    stream = io.BytesIO(data)
    found = list(read_lines(stream, max_bytes, final=final))
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


def test_an_oversized_line_still_being_written_waits_too():
    found, pos = lines(b"ok\n" + b"x" * 250, final=False, max_bytes=100)
    assert [x[1] for x in found] == [b"ok"] and pos == 3


def resume(path: Path, saved: Position | None) -> Position:
    with open(path, "rb") as stream:
        return resume_position(stream, str(path), saved)


def test_resume_continues_the_same_file(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(CONTENT)
    first = resume(path, None)
    first.offset = 301
    store = PositionStore(tmp_path / "state")
    store.save(first)
    with open(path, "ab") as out:  # appends do not change what the file is
        out.write(b'{"n": 40}\n')
    again = resume(path, store.load(str(path)))
    assert again.offset == 301 and again.file_id == first.file_id


def test_a_complete_file_has_the_identity_the_embedded_runner_gives_it(tmp_path: Path):
    plain, packed = tmp_path / "app.log", tmp_path / "app.log.1.gz"
    plain.write_bytes(CONTENT)
    packed.write_bytes(gzip.compress(CONTENT))
    assert resume(plain, None).file_id == file_identity(str(plain)) == file_identity(str(packed))


def test_a_short_head_names_the_inode_too(tmp_path: Path):
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    one.write_bytes(SMALL)
    two.write_bytes(SMALL)  # two logs that began with the same few bytes are not the same file
    assert resume(one, None).file_id != resume(two, None).file_id


def test_truncation_starts_a_new_generation_with_a_new_id(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(CONTENT)
    first = resume(path, None)
    first.offset = len(CONTENT)
    path.write_bytes(CONTENT[:200])  # copytruncate, then the writer wrote the same lines again
    fresh = resume(path, first)
    assert fresh.offset == 0 and fresh.generation == 1 and fresh.file_id != first.file_id


def v1_position(path: Path, fingerprint: str, offset: int, generation: int = 0) -> dict:
    """A position file as the version-1 shipper wrote it."""
    return {
        "path": str(path),
        "inode": os.stat(path).st_ino,
        "fingerprint": fingerprint,
        "generation": generation,
        "offset": offset,
        "header": None,
    }


def test_a_version_1_position_resumes_where_it_was_with_the_file_id_it_gave(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(CONTENT)
    offset = CONTENT.index(b'{"n": 12,')  # it had shipped lines 0..11
    store = PositionStore(tmp_path / "state")
    store._file(str(path)).write_text(json.dumps(v1_position(path, V1_FINGERPRINT, offset)))

    pos = resume(path, store.load(str(path)))
    assert pos.offset == offset and pos.generation == 0
    assert pos.file_id == f"{os.stat(path).st_ino:x}-{V1_FINGERPRINT}-0"  # what version 1 derived
    store.save(pos)  # saved as version 2: the next start resumes the same way
    assert json.loads(store._file(str(path)).read_text())["v"] == 2
    again = resume(path, store.load(str(path)))
    assert (again.offset, again.file_id) == (offset, pos.file_id)


def test_a_version_1_position_of_another_file_starts_that_file_from_the_beginning(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(CONTENT)
    saved = Position.from_doc(v1_position(path, "0123456789ab", 400))  # same inode, other content
    pos = resume(path, saved)
    assert pos.offset == 0 and pos.generation == 1 and pos.file_id != saved.file_id


def test_a_version_1_position_of_a_small_growing_file_keeps_its_rule(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(SMALL)
    saved = Position.from_doc(
        v1_position(path, "stale0digest", len(SMALL))
    )  # version 1 re-digested files under 256 bytes
    pos = resume(path, saved)
    assert pos.offset == len(SMALL) and pos.file_id == f"{os.stat(path).st_ino:x}-{V1_SMALL_FINGERPRINT}-0"


def test_a_position_written_by_a_newer_shipper_is_refused_with_what_to_do(tmp_path: Path):
    with pytest.raises(ValueError, match="upgrade the shipper"):
        Position.from_doc({"v": 3, "path": "/x"})
