"""The one file reader: files (plain or gzip) and stdin as units (lines, or one document) with
their offsets, and the one file-identity scheme; the embedded runner, `secmon sigma` and the
shipper all read through it.

File identity (`identity`): a digest of the first FINGERPRINT_BYTES of the decompressed content,
so a file keeps its identity across renames, and a log and its gzip'd rotation are the same
file (same event ids: Elasticsearch keeps one copy). A reader that may see a file while it is
still being written (the shipper) passes the inode and the truncation count as well; they count
only when the head is short (a few bytes identify no content) or the file was truncated and
written again. A complete file of at least FINGERPRINT_BYTES has the same identity everywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

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


def identity(head: bytes, inode: int | None = None, generation: int = 0) -> str:
    """The file identity of a file whose decompressed content starts with `head` (see the module doc)."""
    digest = hashlib.blake2b(head[:FINGERPRINT_BYTES], digest_size=8)
    if inode is not None and len(head) < FINGERPRINT_BYTES:
        digest.update(b"\x1finode=%d" % inode)
    if generation:
        digest.update(b"\x1fgeneration=%d" % generation)
    return digest.hexdigest()


def file_identity(path: str) -> str:
    """The identity of a complete file (a name, not content, for stdin)."""
    if path == STDIN:
        return "stdin"
    return identity(head(path, FINGERPRINT_BYTES))


def head(path: str, size: int = 64 * 1024) -> bytes:
    """The first bytes of a file, decompressed (for format sniffing); stdin cannot be sniffed."""
    with open_binary(path) as stream:
        return stream.read(size)  # a truncated .gz shows what it has


def read_lines(
    stream: BinaryIO, max_bytes: int, start: int = 0, final: bool = True
) -> Iterator[tuple[int, bytes, int]]:
    """(offset, line without its newline, offset after it) from `start`, the stream's position.

    A line over max_bytes is cut to max_bytes + 1 bytes (the rest is skipped without holding it
    in memory). Unless `final`, a last line without its newline waits for its writer: the stream
    is put back before it (it must then be seekable)."""
    offset = start
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        size = len(line)
        if not line.endswith(b"\n"):
            if size <= max_bytes and not final:
                stream.seek(offset)
                return
            while size > max_bytes:
                rest = stream.readline(1024 * 1024)
                if not rest and not final:
                    stream.seek(offset)
                    return
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield offset, line.rstrip(b"\r\n") if size == len(line) else line, offset + size
        offset += size


def iter_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line without newline) to the end of the stream (see read_lines)."""
    for offset, line, _end in read_lines(stream, max_bytes):
        yield offset, line


UnitKind = Literal["record", "header", "blank"]


@dataclass(frozen=True, slots=True)
class Unit:
    """One line of a stream (or its whole document): where it is, what it is, and the format
    header in force (the latest header line before it, for header-defined formats)."""

    offset: int
    end: int
    data: bytes
    kind: UnitKind
    header: bytes | None


def units(
    stream: BinaryIO,
    normalizer: Normalizer,
    max_bytes: int,
    start: int = 0,
    final: bool = True,
    header: bytes | None = None,
) -> Iterator[Unit]:
    """Every unit from `start`, with its kind; blank and header lines are units too, so a reader
    that saves positions can step over them (see read_lines for `final`)."""
    if normalizer.framing == "document":
        data = stream.read(MAX_DOCUMENT_BYTES + 1)
        if data:
            yield Unit(0, len(data), data, "record" if data.strip() else "blank", None)
        return
    for offset, data, end in read_lines(stream, normalizer.max_line_bytes or max_bytes, start, final):
        if not data.strip():
            yield Unit(offset, end, data, "blank", header)
        elif normalizer.is_header is not None and normalizer.is_header(data):
            header = data
            yield Unit(offset, end, data, "header", header)
        else:
            yield Unit(offset, end, data, "record", header)


def skip(stream: BinaryIO, size: int) -> None:
    """Read past `size` bytes of a stream that cannot seek (decompressed gzip, stdin)."""
    while size > 0:
        chunk = stream.read(min(size, 1024 * 1024))
        if not chunk:
            return
        size -= len(chunk)


def split_records(
    normalizer: Normalizer, data: bytes, origin: Origin, header: bytes | None, max_bytes: int
) -> list[RawRecord]:
    """One line or document as the records the normalizer wants (split when it has a splitter)."""
    if normalizer.split is None or len(data) > (normalizer.max_line_bytes or max_bytes):
        return [RawRecord(data=data, origin=origin, header=header)]
    parts = normalizer.split(data)
    if len(parts) == 1 and parts[0] is data:
        return [RawRecord(data=data, origin=origin, header=header)]
    return [RawRecord(data=part, origin=origin.at(index=i), header=header) for i, part in enumerate(parts)]


BROKEN_STREAM = (EOFError, gzip.BadGzipFile, zlib.error)  # a truncated or corrupt .gz
OnBroken = Callable[[RawRecord, str], None]


def guarded(
    found: Iterator[Unit], stream: BinaryIO, path: str, origin: Origin, on_broken: OnBroken | None
) -> Iterator[Unit]:
    """The units of a stream; when it broke (truncated gzip), one report of where, after what was read."""
    offset = -1
    for unit in found:
        offset = unit.offset
        yield unit
    exc = broken(stream)
    if exc is None:
        return
    reason = (
        f"{path}: compressed data ends or breaks after line offset {max(offset, 0)} "
        f"({type(exc).__name__}: {exc}); every record before it was read. Re-copy the file, or `gzip -t` it"
    )
    if on_broken is None:
        raise ValueError(reason)
    on_broken(RawRecord(data=b"", origin=origin.at(offset=max(offset, 0))), reason)


def read_records(
    path: str, normalizer: Normalizer, max_bytes: int, on_broken: OnBroken | None = None
) -> Iterator[RawRecord]:
    """Every record of one file or stdin, each tagged with source, file identity and offset.

    A stream that breaks (truncated gzip) ends the records there and calls `on_broken` once."""
    base = Origin(source=normalizer.id, file=path, file_id=file_identity(path), offset=0)
    with open_binary(path) as stream:
        for unit in guarded(units(stream, normalizer, max_bytes), stream, path, base, on_broken):
            if unit.kind == "record":
                origin = base.at(offset=unit.offset)
                yield from split_records(normalizer, unit.data, origin, unit.header, max_bytes)
