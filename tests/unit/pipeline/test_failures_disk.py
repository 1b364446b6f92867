"""A full or read-only disk under a write is an expected failure: one line, what to do, no traceback.

Errors of write() and flush() carry no file name (the shipper saving its position into a full state
directory raised `OSError: [Errno 28]` as a bug before)."""

from __future__ import annotations

import errno
import os

import pytest

from pipeline.failures import EXIT_INPUT, EXIT_TEMPORARY, explain


@pytest.mark.parametrize("filename", [None, "/var/lib/secmon/shipper/positions.json"])
def test_a_full_disk_is_temporary_and_says_to_free_space(filename):
    failure = explain(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename))
    assert failure is not None and failure.code == EXIT_TEMPORARY
    assert "No space left on device while writing" in failure.render() and "free some space" in failure.render()
    assert (filename or "") in failure.render()


def test_a_read_only_file_system_under_a_write_names_what_to_check():
    failure = explain(OSError(errno.EROFS, os.strerror(errno.EROFS)))
    assert failure is not None and failure.code == EXIT_INPUT
    assert "Read-only file system while writing" in failure.render()


def test_other_nameless_os_errors_stay_bugs():
    assert explain(OSError(errno.EBADF, os.strerror(errno.EBADF))) is None
