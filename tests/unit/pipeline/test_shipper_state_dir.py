"""A shipper whose state dir fills up or turns read-only keeps shipping and saves again later.

The full disk is real: the save's tmp file is a symlink to /dev/full, whose writes fail with
ENOSPC as a full file system's do."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from pipeline import metrics
from pipeline.failures import EXIT_TEMPORARY, explain
from pipeline.shipper_positions import Position, PositionStore

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def position(offset: int) -> Position:
    return Position("/var/log/app/signin.log", 1234, "f-1", "abc", 256, 0, offset)


def fill(store: PositionStore, pos: Position) -> None:
    """The next write of pos's position hits a full disk."""
    store._file(pos.path).with_suffix(".tmp").symlink_to("/dev/full")


def failures() -> float:
    return metrics.SHIPPER_POSITION_SAVES_FAILED._value.get()


def test_a_full_state_dir_is_said_once_counted_and_saved_again_when_space_is_back(tmp_path, caplog):
    store = PositionStore(tmp_path)
    assert store.save(position(100))
    before = failures()
    with caplog.at_level(logging.WARNING, logger="pipeline.shipper_positions"):
        for offset in (200, 300):
            fill(store, position(offset))
            assert store.save(position(offset)) is False
        assert store.load(position(0).path) == position(100)  # the last saved position is intact
        assert store.save(position(400))
    assert failures() - before == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "still shipping" in errors[0]
    assert any("again, after 2 failed attempts" in r.getMessage() for r in caplog.records)
    assert store.load(position(0).path) == position(400)
    assert sorted(p.name for p in tmp_path.iterdir()) == [store._file(position(0).path).name]  # no tmp left


def test_a_state_dir_that_cannot_be_written_at_start_fails_at_once_in_one_line(tmp_path: Path):
    (tmp_path / f".write-test-{os.getpid()}.tmp").symlink_to("/dev/full")
    with pytest.raises(OSError) as raised:
        PositionStore(tmp_path)
    failure = explain(raised.value)
    assert raised.value.errno == errno.ENOSPC and failure is not None and failure.code == EXIT_TEMPORARY


def test_other_write_errors_are_not_retried(tmp_path: Path):
    store = PositionStore(tmp_path)
    store._file(position(0).path).with_suffix(".tmp").mkdir()  # EISDIR: a bug or a broken setup, raised
    with pytest.raises(IsADirectoryError):
        store.save(position(1))
