"""Read files (plain or gzip) and stdin into RawRecords with their origin (path, identity, offset)."""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from pipeline.normalizers.base import MAX_DOCUMENT_BYTES, Normalizer, RawRecord
from schemas.event import Origin

FINGERPRINT_BYTES = 1024
STDIN = "-"


def open_binary(path: str) -> BinaryIO:
    """The file's bytes (decompressed when it is gzip), or stdin for `-`."""
    if path == STDIN:
        stdin = sys.stdin.buffer
        peek = getattr(stdin, "peek", None)  # a pipe is a BufferedReader: look without consuming
        if peek is not None and peek(2)[:2] == b"\x1f\x8b":
            return _gunzip(stdin)
        return stdin
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return _gunzip(raw)
    raw.seek(0)
    return raw


class _TolerantGzip(io.RawIOBase):
    """Decompressed bytes that end where a truncated or corrupt gzip breaks, keeping everything before.

    `broken` then holds the error; readers report it once (a dead letter) instead of losing the
    lines a buffered reader had decompressed but not yet returned."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._gz = gzip.GzipFile(fileobj=fileobj)
        self._raw = fileobj
        self.broken: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.broken is not None:
            return 0
        try:
            data = self._gz.read1(len(buffer))
        except BROKEN_STREAM as exc:
            self.broken = exc
            return 0
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gz.close()
        self._raw.close()
        super().close()


def _gunzip(fileobj: BinaryIO) -> BinaryIO:
    return io.BufferedReader(_TolerantGzip(fileobj))


def broken(stream: BinaryIO) -> BaseException | None:
    """The error a gzip stream broke on (truncated, corrupt), or None."""
    raw = getattr(stream, "raw", None)
    return raw.broken if isinstance(raw, _TolerantGzip) else None


def file_identity(path: str) -> str:
    """Identity of a file's content independent of its name: a digest of its first bytes."""
    if path == STDIN:
        return "stdin"
    with open_binary(path) as stream:
        head = stream.read(FINGERPRINT_BYTES)
    return hashlib.blake2b(head, digest_size=8).hexdigest()


def head(path: str, size: int = 64 * 1024) -> bytes:
    """The first bytes of a file, decompressed (for format sniffing); stdin cannot be sniffed."""
    with open_binary(path) as stream:
        return stream.read(size)  # a truncated .gz shows what it has


def iter_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line without newline); a line over max_bytes is cut to max_bytes + 1 bytes."""
    offset = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        size = len(line)
        if not line.endswith(b"\n") and size > max_bytes:
            while True:  # skip the rest of an oversized line without holding it in memory
                rest = stream.readline(1024 * 1024)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield offset, line.rstrip(b"\r\n") if size == len(line) else line
        offset += size


def split_records(
    normalizer: Normalizer, data: bytes, origin: Origin, header: bytes | None, max_bytes: int
) -> list[RawRecord]:
    """One line or document as the records the normalizer wants (split when it has a splitter)."""
    if normalizer.split is None or len(data) > (normalizer.max_line_bytes or max_bytes):
        return [RawRecord(data=data, origin=origin, header=header)]
    parts = normalizer.split(data)
    if len(parts) == 1 and parts[0] is data:
        return [RawRecord(data=data, origin=origin, header=header)]
    return [
        RawRecord(data=part, origin=origin.model_copy(update={"index": i}), header=header)
        for i, part in enumerate(parts)
    ]


BROKEN_STREAM = (EOFError, gzip.BadGzipFile, zlib.error)  # a truncated or corrupt .gz
OnBroken = Callable[[RawRecord, str], None]


def _guarded(
    units: Iterator[tuple[int, bytes]], stream: BinaryIO, path: str, origin: Origin, on_broken: OnBroken | None
) -> Iterator[tuple[int, bytes]]:
    """The units of a stream; when it broke (truncated gzip), one report of where, after what was read."""
    offset = -1
    for offset, data in units:
        yield offset, data
    exc = broken(stream)
    if exc is None:
        return
    reason = (
        f"{path}: compressed data ends or breaks after line offset {max(offset, 0)} "
        f"({type(exc).__name__}: {exc}); every record before it was read. Re-copy the file, or `gzip -t` it"
    )
    if on_broken is None:
        raise ValueError(reason)
    on_broken(RawRecord(data=b"", origin=origin.model_copy(update={"offset": max(offset, 0)})), reason)


def read_records(
    path: str, normalizer: Normalizer, max_bytes: int, on_broken: OnBroken | None = None
) -> Iterator[RawRecord]:
    """Every record of one file or stdin, each tagged with source, file identity and offset.

    A stream that breaks (truncated gzip) ends the records there and calls `on_broken` once."""
    file_id = file_identity(path)
    limit = normalizer.max_line_bytes or max_bytes
    header: bytes | None = None
    base = Origin(source=normalizer.id, file=path, file_id=file_id, offset=0)
    with open_binary(path) as stream:
        if normalizer.framing == "document":
            units: Iterator[tuple[int, bytes]] = _document(stream)
        else:
            units = iter_lines(stream, limit)
        for offset, data in _guarded(units, stream, path, base, on_broken):
            if not data.strip():
                continue
            if normalizer.is_header is not None and normalizer.is_header(data):
                header = data
                continue
            origin = base.model_copy(update={"offset": offset})
            yield from split_records(normalizer, data, origin, header, max_bytes)


def _document(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    yield 0, stream.read(MAX_DOCUMENT_BYTES + 1)
