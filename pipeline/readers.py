"""Read files (plain or gzip) and stdin into RawRecords with their origin (path, identity, offset)."""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections.abc import Iterator
from typing import BinaryIO

from pipeline.normalizers.base import MAX_DOCUMENT_BYTES, Normalizer, RawRecord
from schemas.event import Origin

FINGERPRINT_BYTES = 1024
STDIN = "-"


def open_binary(path: str) -> BinaryIO:
    """The file's bytes (decompressed when it is gzip), or stdin for `-`."""
    if path == STDIN:
        return sys.stdin.buffer
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


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
        return stream.read(size)


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


def split_records(normalizer: Normalizer, data: bytes, origin: Origin, header: bytes | None,
                  max_bytes: int) -> list[RawRecord]:
    """One line or document as the records the normalizer wants (split when it has a splitter)."""
    if normalizer.split is None or len(data) > (normalizer.max_line_bytes or max_bytes):
        return [RawRecord(data=data, origin=origin, header=header)]
    parts = normalizer.split(data)
    if len(parts) == 1 and parts[0] is data:
        return [RawRecord(data=data, origin=origin, header=header)]
    return [RawRecord(data=part, origin=origin.model_copy(update={"index": i}), header=header)
            for i, part in enumerate(parts)]


def read_records(path: str, normalizer: Normalizer, max_bytes: int) -> Iterator[RawRecord]:
    """Every record of one file or stdin, each tagged with source, file identity and offset."""
    file_id = file_identity(path)
    limit = normalizer.max_line_bytes or max_bytes
    header: bytes | None = None
    with open_binary(path) as stream:
        if normalizer.framing == "document":
            units: Iterator[tuple[int, bytes]] = iter([(0, stream.read(MAX_DOCUMENT_BYTES + 1))])
        else:
            units = iter_lines(stream, limit)
        for offset, data in units:
            if not data.strip():
                continue
            if normalizer.is_header is not None and normalizer.is_header(data):
                header = data
                continue
            origin = Origin(source=normalizer.id, file=path, file_id=file_id, offset=offset)
            yield from split_records(normalizer, data, origin, header, max_bytes)
