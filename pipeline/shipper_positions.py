"""Where shipping of each file stands: the saved read positions, their store, and the rules that
tell, after a restart or a rotation, the same file (resume) from a new one (start over).

A position is saved only after Kafka acknowledged everything before it (`pipeline.shipper`), so a
crash re-sends, never skips. Positions are version 2; version 1 still reads, keeping the file id
it gave.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline import metrics
from pipeline.readers import FINGERPRINT_BYTES, identity

log = logging.getLogger(__name__)
POSITION_VERSION = 2
V1_FINGERPRINT_BYTES = 256  # version 1 digested the first 256 raw bytes (6-byte blake2b)


@dataclass
class Position:
    """Where shipping of one path stands: which file and how far.

    `file_id` is fixed when the file is first seen (`pipeline.readers.identity`); `fingerprint`
    digests the first `head_bytes` of its content then, which appends never change, so a restart
    can tell the same file from a new one at the same path (the inode alone can be reused)."""

    path: str
    inode: int
    file_id: str
    fingerprint: str
    head_bytes: int
    generation: int  # times the file was truncated and written again (copytruncate)
    offset: int
    header: str | None = None  # latest format header line (latin-1), for header-defined formats
    v: int = POSITION_VERSION  # 1: read from a version-1 file, checked the version-1 way once

    def to_doc(self) -> dict[str, Any]:
        """The stored form."""
        return asdict(self) | {"v": POSITION_VERSION}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Position:
        """A position from its stored form, of this version or of version 1 (no "v")."""
        version = doc.get("v", 1)
        if version == POSITION_VERSION:
            return cls(**doc)
        if version == 1:  # {path, inode, fingerprint, generation, offset, header}; the id was derived
            legacy = f"{doc['inode']:x}-{doc['fingerprint']}-{doc['generation']}"
            return cls(**doc, file_id=legacy, head_bytes=V1_FINGERPRINT_BYTES, v=1)
        raise ValueError(
            f"shipper position of {doc.get('path')!r} has version {version!r}: this secmon reads "
            f"versions 1 to {POSITION_VERSION}; upgrade the shipper (a newer one wrote it)"
        )


class PositionStore:
    """One JSON file per shipped path under the state dir, replaced atomically.

    A state dir that cannot be written at start is a setup error (raised, explained in one line).
    One that fills up or turns read-only later does not stop shipping: the save is tried again
    after every batch, the failure is said once and counted, and until a save succeeds a restart
    re-sends from the last saved position (at least once; the event ids make re-sends no doubles)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._failing: dict[str, int] = {}  # path -> saves failed in a row
        probe = directory / f".write-test-{os.getpid()}"  # per process: shippers may share the dir
        self._write(probe, b"{}")  # fail now, with what to do, not mid-stream
        probe.unlink()

    def _file(self, path: str) -> Path:
        name = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:24]
        return self.directory / f"{name}.json"

    def load(self, path: str) -> Position | None:
        """The saved position of path, or None."""
        try:
            return Position.from_doc(json.loads(self._file(path).read_text()))
        except FileNotFoundError:
            return None

    def save(self, pos: Position) -> bool:
        """Write the position durably (tmp file, fsync, rename); False when the state dir is full
        or read-only right now (said once per episode, counted, and tried again at the next save)."""
        try:
            self._write(self._file(pos.path), json.dumps(pos.to_doc()).encode())
        except OSError as exc:
            if exc.errno not in UNWRITABLE:
                raise
            failed = self._failing[pos.path] = self._failing.get(pos.path, 0) + 1
            metrics.SHIPPER_POSITION_SAVES_FAILED.inc()
            if failed == 1:
                log.error(
                    "cannot save the shipping position of %s in %s: %s; still shipping and trying again "
                    "after every batch. Free space on (or remount writable) that file system; a restart "
                    "before a save succeeds re-sends from the last saved position (no doubles)",
                    pos.path,
                    self.directory,
                    exc.strerror or exc,
                )
            return False
        failed = self._failing.pop(pos.path, 0)
        if failed:
            log.warning("saved the shipping position of %s again, after %d failed attempts", pos.path, failed)
        return True

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        tmp = target.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError:
            with contextlib.suppress(OSError):  # a half-written tmp file must not hold the space
                tmp.unlink()
            raise


UNWRITABLE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)  # passing conditions of a state dir: retried


def _head(stream: BinaryIO, size: int) -> bytes:
    """The first `size` bytes of a seekable stream, leaving its position where it was."""
    here = stream.tell()
    stream.seek(0)
    data = stream.read(size)
    stream.seek(here)
    return data


def digest(data: bytes, hex_chars: int = 16) -> str:
    return hashlib.blake2b(data, digest_size=hex_chars // 2).hexdigest()


def same_file(saved: Position, head: bytes, inode: int | None, size: int | None) -> bool:
    """Whether a saved position still describes the file whose content starts with `head`.

    `inode`/`size` are None for a gzip archive (content only: it may have been moved or copied)."""
    if inode is not None and (saved.inode != inode or size is None or saved.offset > size):
        return False
    if saved.v == 1:  # version 1 accepted any file under 256 bytes on the same inode
        return digest(head[: saved.head_bytes], len(saved.fingerprint)) == saved.fingerprint or (
            size is not None and size < V1_FINGERPRINT_BYTES
        )
    return len(head) >= saved.head_bytes and digest(head[: saved.head_bytes]) == saved.fingerprint


def _position(
    path: str, head: bytes, inode: int, generation: int, offset: int = 0, file_id: str | None = None
) -> Position:
    """A position at `offset`, fingerprinted over the head seen now."""
    head = head[:FINGERPRINT_BYTES]
    return Position(
        path=path,
        inode=inode,
        file_id=file_id or identity(head, inode, generation),
        fingerprint=digest(head),
        head_bytes=len(head),
        generation=generation,
        offset=offset,
    )


def resume_position(stream: BinaryIO, path: str, saved: Position | None) -> Position:
    """Continue a saved position if it still describes this file, else start at the beginning.

    A version-1 position that matches keeps its file id (the lines after it keep the ids the
    old shipper gave, so a batch it sent but could not save is re-sent as the same events) and
    is fingerprinted anew."""
    stat = os.fstat(stream.fileno())
    head = _head(stream, FINGERPRINT_BYTES)
    if saved is not None and same_file(saved, head, stat.st_ino, stat.st_size):
        if saved.v != 1:
            return saved
        # version 1 re-digested a file under 256 bytes at each resume, and named it by that digest
        old_head = head[:V1_FINGERPRINT_BYTES]
        legacy = saved.file_id if len(old_head) == V1_FINGERPRINT_BYTES else v1_file_id(stat.st_ino, old_head, saved)
        fresh = _position(path, head, stat.st_ino, saved.generation, saved.offset, legacy)
        fresh.header = saved.header
        return fresh
    generation = saved.generation + 1 if saved and saved.inode == stat.st_ino else 0
    return _position(path, head, stat.st_ino, generation)


def v1_file_id(inode: int, head: bytes, saved: Position) -> str:
    """The file id version 1 gave: inode, digest of the first 256 bytes, truncation count."""
    return f"{inode:x}-{digest(head[:V1_FINGERPRINT_BYTES], 12)}-{saved.generation}"
