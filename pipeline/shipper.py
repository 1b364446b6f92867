"""`secmon ship`: tail files (or stdin) into the raw topic of their source, at least once.

Each line goes to `<prefix>-raw-<source>` with the line bytes as value, the file identity as
key (one file's lines stay in order on one partition) and its origin (file, identity, byte
offset) in a header, from which the worker derives the event id. The read position is saved
atomically only after Kafka acknowledged everything before it, so a crash re-sends, never skips.
Files are read by `pipeline.readers` (as the embedded runner reads them) and named by its
identity scheme.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline import deadletter, metrics
from pipeline.kafka.codec import FORMAT_HEADER, origin_header
from pipeline.kafka.config import kafka_python_kwargs
from pipeline.kafka.topics import TopicNames
from pipeline.normalizers.base import RawRecord
from pipeline.normalizers.registry import get as get_normalizer
from pipeline.readers import FINGERPRINT_BYTES, STDIN, guarded, identity, open_binary, skip, split_records, units
from pipeline.settings import SecmonSettings
from schemas.event import Origin

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
        digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:24]
        return self.directory / f"{digest}.json"

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


def _digest(data: bytes, hex_chars: int = 16) -> str:
    return hashlib.blake2b(data, digest_size=hex_chars // 2).hexdigest()


def _same_file(saved: Position, head: bytes, inode: int | None, size: int | None) -> bool:
    """Whether a saved position still describes the file whose content starts with `head`.

    `inode`/`size` are None for a gzip archive (content only: it may have been moved or copied)."""
    if inode is not None and (saved.inode != inode or size is None or saved.offset > size):
        return False
    if saved.v == 1:  # version 1 accepted any file under 256 bytes on the same inode
        return _digest(head[: saved.head_bytes], len(saved.fingerprint)) == saved.fingerprint or (
            size is not None and size < V1_FINGERPRINT_BYTES
        )
    return len(head) >= saved.head_bytes and _digest(head[: saved.head_bytes]) == saved.fingerprint


def _position(
    path: str, head: bytes, inode: int, generation: int, offset: int = 0, file_id: str | None = None
) -> Position:
    """A position at `offset`, fingerprinted over the head seen now."""
    head = head[:FINGERPRINT_BYTES]
    return Position(
        path=path,
        inode=inode,
        file_id=file_id or identity(head, inode, generation),
        fingerprint=_digest(head),
        head_bytes=len(head),
        generation=generation,
        offset=offset,
    )


def _resume(stream: BinaryIO, path: str, saved: Position | None) -> Position:
    """Continue a saved position if it still describes this file, else start at the beginning.

    A version-1 position that matches keeps its file id (the lines after it keep the ids the
    old shipper gave, so a batch it sent but could not save is re-sent as the same events) and
    is fingerprinted anew."""
    stat = os.fstat(stream.fileno())
    head = _head(stream, FINGERPRINT_BYTES)
    if saved is not None and _same_file(saved, head, stat.st_ino, stat.st_size):
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
    return f"{inode:x}-{_digest(head[:V1_FINGERPRINT_BYTES], 12)}-{saved.generation}"


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

    def broken(self, record: RawRecord, reason: str) -> None:
        """Queue the dead letter of a stream that broke (truncated gzip) after what was read of it."""
        dead = deadletter.counted(deadletter.of_record(record, "ship", "truncated_input", reason))
        key = (record.origin.file_id or "stdin").encode()
        self.producer.send(self.deadletter_topic, key=key, value=deadletter.encode(dead))
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
    """Ship stdin (plain or gzip) to EOF; stdin has no identity, so ids come from the Kafka position."""
    sent = 0
    origin = Origin(source=shipper.source)
    with open_binary(STDIN) as stream:
        found = units(stream, shipper.normalizer, shipper.max_bytes)
        for unit in guarded(found, stream, "stdin", origin, shipper.broken):
            if unit.kind == "record":
                sent += shipper.send_unit(unit.data, origin, b"stdin", unit.header, unit.end - unit.offset)
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
    """Ship a gzip'd (rotated, immutable) log once; offsets count decompressed bytes. Its identity
    is its content's, so an archive of a log shipped before it was compressed repeats its ids."""
    with open(path, "rb") as raw:
        inode = os.fstat(raw.fileno()).st_ino
        raw_head = raw.read(V1_FINGERPRINT_BYTES)
    with open_binary(path) as stream:
        head = stream.read(FINGERPRINT_BYTES)
    saved = store.load(path)
    pos = Position(path, inode, identity(head), _digest(head), len(head), generation=0, offset=0)
    if saved is not None and saved.v == 1:  # version 1 digested the compressed bytes
        if saved.inode == inode and _digest(raw_head, len(saved.fingerprint)) == saved.fingerprint:
            pos.file_id, pos.offset, pos.header = saved.file_id, saved.offset, saved.header
    elif saved is not None and _same_file(saved, head, None, None):
        pos = saved
    with open_binary(path) as stream:
        skip(stream, pos.offset)
        return _drain(shipper, store, stream, pos, final=True)


def ship_document(shipper: Shipper, store: PositionStore, path: str) -> int:
    """Ship a whole-document file (e.g. a scanner report) once; a re-run skips it if unchanged."""
    with open(path, "rb") as raw:
        pos = _resume(raw, path, store.load(path))
        size = os.fstat(raw.fileno()).st_size
    if pos.offset >= size > 0:
        return 0
    with open_binary(path) as stream:
        found = list(units(stream, shipper.normalizer, shipper.max_bytes))
    data = found[0].data if found else b""
    origin = Origin(source=shipper.source, file=path, file_id=pos.file_id, offset=0)
    sent = shipper.send_unit(data, origin, pos.file_id.encode(), None, len(data))
    shipper.flush()
    pos.offset = size
    store.save(pos)
    return sent


def _drain(shipper: Shipper, store: PositionStore, stream: BinaryIO, pos: Position, final: bool) -> int:
    """Send every complete line from the current position; save the position after each ack.

    A stream that breaks (truncated gzip) ends there, after one dead letter saying where."""
    sent = 0
    header = pos.header.encode("latin-1") if pos.header is not None else None
    base = Origin(source=shipper.source, file=pos.path, file_id=pos.file_id, offset=0)
    found = units(stream, shipper.normalizer, shipper.max_bytes, pos.offset, final, header)
    for unit in guarded(found, stream, pos.path, base, shipper.broken):
        if unit.kind == "header":
            pos.header = unit.data.decode("latin-1")
        elif unit.kind == "record":
            origin = base.model_copy(update={"offset": unit.offset})
            sent += shipper.send_unit(unit.data, origin, pos.file_id.encode(), unit.header, unit.end - unit.offset)
        pos.offset = unit.end
        if shipper.pending >= shipper.settings.shipper.batch_size:
            shipper.flush()
            store.save(pos)
    shipper.flush()
    store.save(pos)
    return sent


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
