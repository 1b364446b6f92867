"""Read files (plain or gzip) and stdin into RawRecords with their origin (path, identity, offset)."""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipeline.normalizers.base import Framing, RawRecord
from schemas.event import Origin

FINGERPRINT_BYTES = 1024
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
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


def first_line(path: str) -> bytes:
    """The first line of a file (for source sniffing); stdin cannot be sniffed."""
    with open_binary(path) as stream:
        return stream.readline(64 * 1024)


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


def read_records(path: str, source: str, framing: Framing, max_bytes: int) -> Iterator[RawRecord]:
    """Every record of one file or stdin, each tagged with source, file identity and offset."""
    file_id = file_identity(path)
    with open_binary(path) as stream:
        if framing == "document":
            data = stream.read(MAX_DOCUMENT_BYTES + 1)
            yield RawRecord(data=data, origin=Origin(source=source, file=path, file_id=file_id, offset=0))
            return
        for offset, line in iter_lines(stream, max_bytes):
            if line.strip():
                yield RawRecord(data=line, origin=Origin(source=source, file=path, file_id=file_id, offset=offset))
