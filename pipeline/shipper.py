"""`secmon ship`: tail files (or stdin) into the raw topic of their source, at least once.

Each line goes to `<prefix>-raw-<source>` with the line bytes as value, the file identity as
key (one file's lines stay in order on one partition) and its origin (file, identity, byte
offset) in a header, from which the worker derives the event id. The read position is saved
atomically only after Kafka acknowledged everything before it, so a crash re-sends, never skips.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline import deadletter, metrics
from pipeline.kafka.codec import FORMAT_HEADER, origin_header
from pipeline.kafka.config import kafka_python_kwargs
from pipeline.kafka.topics import TopicNames
from pipeline.normalizers.base import RawRecord
from pipeline.normalizers.registry import get as get_normalizer
from pipeline.readers import MAX_DOCUMENT_BYTES, STDIN, iter_lines, split_records
from pipeline.settings import SecmonSettings
from schemas.event import Origin

log = logging.getLogger(__name__)
FINGERPRINT_BYTES = 256


@dataclass
class Position:
    """Where shipping of one path stands: which file (identity) and how far."""

    path: str
    inode: int
    fingerprint: str
    generation: int
    offset: int
    header: str | None = None  # latest format header line (latin-1), for header-defined formats

    @property
    def file_id(self) -> str:
        """Identity of the file content being read: inode, head digest and truncation count."""
        return f"{self.inode:x}-{self.fingerprint}-{self.generation}"


class PositionStore:
    """One JSON file per shipped path under the state dir, replaced atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _file(self, path: str) -> Path:
        digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:24]
        return self.directory / f"{digest}.json"

    def load(self, path: str) -> Position | None:
        """The saved position of path, or None."""
        try:
            return Position(**json.loads(self._file(path).read_text()))
        except FileNotFoundError:
            return None

    def save(self, pos: Position) -> None:
        """Write the position durably (tmp file, fsync, rename)."""
        target = self._file(pos.path)
        tmp = target.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(asdict(pos), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)


def _fingerprint(stream: BinaryIO) -> str:
    here = stream.tell()
    stream.seek(0)
    head = stream.read(FINGERPRINT_BYTES)
    stream.seek(here)
    return hashlib.blake2b(head, digest_size=6).hexdigest()


def _resume(stream: BinaryIO, path: str, saved: Position | None) -> Position:
    """Continue a saved position if it still describes this file, else start at the beginning."""
    inode = os.fstat(stream.fileno()).st_ino
    size = os.fstat(stream.fileno()).st_size
    fingerprint = _fingerprint(stream)
    if (
        saved
        and saved.inode == inode
        and saved.offset <= size
        and (saved.fingerprint == fingerprint or size < FINGERPRINT_BYTES)
    ):
        saved.fingerprint = fingerprint
        return saved
    generation = saved.generation + 1 if saved and saved.inode == inode else 0
    return Position(path=path, inode=inode, fingerprint=fingerprint, generation=generation, offset=0)


class Shipper:
    """Sends records of one source to Kafka in acknowledged batches."""

    def __init__(self, settings: SecmonSettings, source: str) -> None:
        from kafka import KafkaProducer

        self.settings = settings
        self.normalizer = get_normalizer(source)
        self.source = self.normalizer.id
        names = TopicNames(settings.kafka.topic_prefix)
        self.topic = names.raw(self.source)
        self.deadletter_topic = names.deadletter
        self.max_bytes = settings.parse.max_record_bytes
        self.max_line_bytes = self.normalizer.max_line_bytes or self.max_bytes
        self.producer = KafkaProducer(
            **kafka_python_kwargs(settings.kafka),
            acks="all",
            linger_ms=20,
            max_request_size=max(2 * 1024 * 1024, self.max_bytes + 65536),
            compression_type=None,
            retries=2147483647,
            client_id="secmon-shipper",
        )
        self.pending = 0

    def send_unit(self, data: bytes, origin: Origin, key: bytes, header: bytes | None, size: int) -> int:
        """Queue one line or document, split into records when its format asks; the count queued."""
        if len(data) > self.max_line_bytes:
            self.send(data, origin, key, None, size)
            return 1
        records = split_records(self.normalizer, data, origin, header, self.max_line_bytes)
        for record in records:
            self.send(record.data, record.origin, key, header, size if len(records) == 1 else len(record.data))
        return len(records)

    def send(
        self, line: bytes, origin: Origin, key: bytes, header: bytes | None = None, size: int | None = None
    ) -> None:
        """Queue one record (or, if it is too large, its dead letter); `size` is its full size."""
        if len(line) > self.max_bytes:
            record = RawRecord(data=line, origin=origin)
            reason = (
                f"line of {size or len(line)} bytes is over the {self.max_bytes}-byte limit (parse.max_record_bytes)"
            )
            dead = deadletter.counted(deadletter.of_record(record, "ship", "too_large", reason, size=size))
            self.producer.send(self.deadletter_topic, key=key, value=deadletter.encode(dead))
        else:
            headers = [origin_header(origin)] + ([(FORMAT_HEADER, header)] if header else [])
            self.producer.send(self.topic, key=key, value=line, headers=headers)
        self.pending += 1

    def flush(self) -> int:
        """Block until Kafka acknowledged everything queued; the count acknowledged."""
        self.producer.flush()
        done, self.pending = self.pending, 0
        metrics.SHIPPED.labels(source=self.source, outcome="acked").inc(done)
        return done

    def close(self) -> None:
        """Flush and close the producer."""
        self.flush()
        self.producer.close()


def ship(paths: list[str], source: str, settings: SecmonSettings, follow: bool = True) -> int:
    """Ship every path (in turn when not following, tailing the last one when following)."""
    metrics.serve(settings.metrics_port, settings.metrics_host)
    stop = _install_stop()
    shipper = Shipper(settings, source)
    store = PositionStore(settings.shipper.state_dir)
    total = 0
    try:
        for n, path in enumerate(paths):
            tail = follow and n == len(paths) - 1
            total += ship_stdin(shipper) if path == STDIN else ship_file(shipper, store, path, tail, stop)
    finally:
        shipper.close()
    log.info("shipped %d records", total)
    return 0


def ship_stdin(shipper: Shipper) -> int:
    """Ship stdin to EOF; stdin has no identity, so ids come from the Kafka position."""
    import sys

    sent = 0
    header = None
    for _offset, line in iter_lines(sys.stdin.buffer, shipper.max_line_bytes):
        if shipper.normalizer.is_header is not None and shipper.normalizer.is_header(line):
            header = line
        elif line.strip():
            sent += shipper.send_unit(line, Origin(source=shipper.source), b"stdin", header, len(line))
            if shipper.pending >= shipper.settings.shipper.batch_size:
                shipper.flush()
    return sent


def ship_file(shipper: Shipper, store: PositionStore, path: str, follow: bool, stop) -> int:
    """Ship one file from its saved position; follow rotation (rename or copytruncate) if asked."""
    sent = 0
    path = os.path.abspath(path)
    if shipper.normalizer.framing == "document":
        return ship_document(shipper, store, path)
    if _is_gzip(path):
        return ship_archive(shipper, store, path)
    while not stop():
        with open(path, "rb") as stream:
            pos = _resume(stream, path, store.load(path))
            stream.seek(pos.offset)
            while True:
                sent += _drain(shipper, store, stream, pos, final=not follow)
                if not follow:
                    return sent
                change = _wait_for_change(stream, path, pos, shipper.settings.shipper.poll_seconds, stop)
                if change == "grew":
                    continue
                if change == "rotated":  # lines written to the old file before the rename still count
                    sent += _drain(shipper, store, stream, pos, final=True)
                    log.info("%s was rotated; following the new file", path)
                elif change == "truncated":
                    log.info("%s was truncated (copytruncate); reading it from the start", path)
                break
    return sent


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def ship_archive(shipper: Shipper, store: PositionStore, path: str) -> int:
    """Ship a gzip'd (rotated, immutable) log once; offsets count decompressed bytes."""
    with open(path, "rb") as raw:
        inode = os.fstat(raw.fileno()).st_ino
        fingerprint = _fingerprint(raw)
        saved = store.load(path)
        if saved and saved.inode == inode and saved.fingerprint == fingerprint:
            pos = saved
        else:
            pos = Position(path=path, inode=inode, fingerprint=fingerprint, generation=0, offset=0)
        with gzip.GzipFile(fileobj=raw) as stream:
            stream.seek(pos.offset)
            return _drain(shipper, store, stream, pos, final=True)  # type: ignore[arg-type]


def ship_document(shipper: Shipper, store: PositionStore, path: str) -> int:
    """Ship a whole-document file (e.g. a scanner report) once; a re-run skips it if unchanged."""
    with open(path, "rb") as stream:
        pos = _resume(stream, path, store.load(path))
        size = os.fstat(stream.fileno()).st_size
        if pos.offset >= size > 0:
            return 0
        data = stream.read(MAX_DOCUMENT_BYTES + 1)
    origin = Origin(source=shipper.source, file=path, file_id=pos.file_id, offset=0)
    sent = shipper.send_unit(data, origin, pos.file_id.encode(), None, len(data))
    shipper.flush()
    pos.offset = size
    store.save(pos)
    return sent


def _drain(shipper: Shipper, store: PositionStore, stream: BinaryIO, pos: Position, final: bool) -> int:
    """Send every complete line from the current position; save the position after each ack."""
    sent = 0
    is_header = shipper.normalizer.is_header
    for line_offset, line, next_offset in _complete_lines(stream, shipper.max_line_bytes, final):
        if is_header is not None and is_header(line):
            pos.header = line.decode("latin-1")
        elif line.strip():
            origin = Origin(source=shipper.source, file=pos.path, file_id=pos.file_id, offset=line_offset)
            header = pos.header.encode("latin-1") if pos.header is not None else None
            sent += shipper.send_unit(line, origin, pos.file_id.encode(), header, next_offset - line_offset)
        pos.offset = next_offset
        if shipper.pending >= shipper.settings.shipper.batch_size:
            shipper.flush()
            store.save(pos)
    shipper.flush()
    store.save(pos)
    return sent


def _complete_lines(stream: BinaryIO, max_bytes: int, final: bool) -> Iterator[tuple[int, bytes, int]]:
    """(offset, line, offset after it) for each newline-terminated line; a partial last line
    waits for its writer unless `final`. An oversized line is cut to max_bytes + 1 bytes."""
    while True:
        start = stream.tell()
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if line.endswith(b"\n"):
            yield start, line.rstrip(b"\r\n"), stream.tell()
            continue
        if len(line) <= max_bytes and not final:
            stream.seek(start)  # the writer has not finished this line yet
            return
        while len(line) > max_bytes:  # skip the rest of an oversized line
            rest = stream.readline(1024 * 1024)
            if not rest and not final:
                stream.seek(start)
                return
            if not rest or rest.endswith(b"\n"):
                break
        yield start, line, stream.tell()


def _wait_for_change(stream: BinaryIO, path: str, pos: Position, poll: float, stop) -> str:
    """Sleep until the file grew, was truncated or was replaced; say which (or "stop")."""
    while not stop():
        time.sleep(poll)
        size = os.fstat(stream.fileno()).st_size
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = pos.inode  # between rename and create: keep reading the old file
        if current != pos.inode:
            return "rotated"
        if size < pos.offset:
            return "truncated"
        if size > pos.offset:
            return "grew"
    return "stop"


def _install_stop():
    stopping = {"now": False}

    def handler(_signo, _frame):
        stopping["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return lambda: stopping["now"]
