"""`secmon ship`: tail files (or stdin) into the raw topic of their source, at least once.

Each line goes to `<prefix>-raw-<source>` with the line bytes as value, the file identity as
key (one file's lines stay in order on one partition) and its origin (file, identity, byte
offset) in a header, from which the worker derives the event id. The read position is saved
atomically only after Kafka acknowledged everything before it, so a crash re-sends, never skips.
Files are read by `pipeline.readers` (as the embedded runner reads them) and named by its
identity scheme.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import BinaryIO

from pipeline import deadletter, metrics
from pipeline.kafka.codec import FORMAT_HEADER, origin_header
from pipeline.kafka.config import kafka_python_kwargs
from pipeline.kafka.topics import TopicNames
from pipeline.normalizers.base import RawRecord
from pipeline.normalizers.registry import get as get_normalizer
from pipeline.readers import FINGERPRINT_BYTES, STDIN, guarded, identity, open_binary, skip, split_records, units
from pipeline.settings import SecmonSettings
from pipeline.shipper_positions import V1_FINGERPRINT_BYTES, Position, PositionStore, digest, resume_position, same_file
from schemas.event import Origin

log = logging.getLogger(__name__)


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
            pos = resume_position(stream, path, store.load(path))
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
    pos = Position(path, inode, identity(head), digest(head), len(head), generation=0, offset=0)
    if saved is not None and saved.v == 1:  # version 1 digested the compressed bytes
        if saved.inode == inode and digest(raw_head, len(saved.fingerprint)) == saved.fingerprint:
            pos.file_id, pos.offset, pos.header = saved.file_id, saved.offset, saved.header
    elif saved is not None and same_file(saved, head, None, None):
        pos = saved
    with open_binary(path) as stream:
        skip(stream, pos.offset)
        return _drain(shipper, store, stream, pos, final=True)


def ship_document(shipper: Shipper, store: PositionStore, path: str) -> int:
    """Ship a whole-document file (e.g. a scanner report) once; a re-run skips it if unchanged."""
    with open(path, "rb") as raw:
        pos = resume_position(raw, path, store.load(path))
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
