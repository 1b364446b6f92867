"""`secmon context load|delete|check`: publish context rows to the compacted topics, or validate files.

Workers follow `<prefix>-context-<table>` and apply each row as it arrives, without a restart.
`load` validates the whole file first (every bad row with its file:line, nothing published when
one is bad), then publishes one message per row, keyed by the row's id; publishing the same file
again is harmless (compaction keeps the latest row per id). `delete` publishes tombstones.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline.context.loader import load_directory, load_file
from pipeline.context.models import TABLES, Row
from pipeline.settings import SecmonSettings

log = logging.getLogger(__name__)
SEND_TIMEOUT_SECONDS = 60


def register(sub: argparse._SubParsersAction) -> None:
    """Add `secmon context ...` to the `secmon` parser."""
    context = sub.add_parser("context", help="context tables: publish rows to the workers, or check files")
    csub = context.add_subparsers(title="context commands")
    load = csub.add_parser("load", help="validate a file and publish its rows to <prefix>-context-<table>")
    load.add_argument("file", type=Path, help="a .csv, .json, .jsonl or .yaml file of rows")
    load.add_argument("--table", choices=TABLES, help="which table the rows belong to (default: the file's stem)")
    load.set_defaults(func=_cmd_load)
    delete = csub.add_parser("delete", help="remove rows by id (publishes tombstones)")
    delete.add_argument("ids", nargs="+", help="row ids: user id, host name, ticket id or ports row id")
    delete.add_argument("--table", choices=TABLES, required=True, help="the table the ids belong to")
    delete.set_defaults(func=_cmd_delete)
    check = csub.add_parser("check", help="validate a file, or every table file of a directory, without publishing")
    check.add_argument("path", type=Path, nargs="?", help="file or directory (default: enrich.context_dir)")
    check.add_argument("--table", choices=TABLES, help="table of a single file (default: the file's stem)")
    check.set_defaults(func=_cmd_check)


def message_of(row: Row) -> tuple[bytes, bytes]:
    """(key, value) of one row on its compacted topic: the id, and the row as JSON."""
    return row.key.encode(), row.model_dump_json(exclude_none=True).encode()


def table_of(path: Path, table: str | None) -> str:
    """The table a file holds: `--table`, else the file's stem; ValueError when neither names one."""
    if table is not None:
        return table
    if path.stem in TABLES:
        return path.stem
    raise ValueError(f"cannot tell which table {path.name} holds; pass --table ({', '.join(TABLES)})")


def _cmd_load(args: argparse.Namespace, settings: SecmonSettings) -> int:
    table = table_of(args.file, args.table)
    rows = load_file(args.file, table).rows  # raises with every bad row before anything is sent
    sent = publish(settings, table, [message_of(row) for row in rows.values()])
    print(f"published {sent} {table} row(s) from {args.file}")
    return 0


def _cmd_delete(args: argparse.Namespace, settings: SecmonSettings) -> int:
    sent = publish(settings, args.table, [(row_id.encode(), None) for row_id in args.ids])
    print(f"published {sent} {args.table} tombstone(s)")
    return 0


def _cmd_check(args: argparse.Namespace, settings: SecmonSettings) -> int:
    path = args.path or settings.enrich.context_dir
    if path is None:
        raise ValueError("nothing to check: pass a file or directory, or set enrich.context_dir")
    if path.is_dir():
        counts = {table: len(f.rows) for table, f in load_directory(path).items()}
    else:
        table = table_of(path, args.table)
        counts = {table: len(load_file(path, table).rows)}
    print("ok: " + (", ".join(f"{n} {table}" for table, n in counts.items()) or "no table files"))
    return 0


def publish(settings: SecmonSettings, table: str, messages: list[tuple[bytes, bytes | None]]) -> int:
    """Send (key, value) messages to the table's compacted topic (created if missing); the count acknowledged."""
    from kafka import KafkaProducer

    from pipeline.kafka.config import kafka_python_kwargs
    from pipeline.kafka.topics import TopicNames, ensure_topics

    ensure_topics(settings)
    topic = TopicNames(settings.kafka.topic_prefix).context(table)
    producer = KafkaProducer(**kafka_python_kwargs(settings.kafka), acks="all", client_id="secmon-context")
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(timeout=SEND_TIMEOUT_SECONDS)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT_SECONDS)  # raises the broker's error for a message it refused
    finally:
        producer.close()
    log.info("published %d message(s) to %s", len(messages), topic)
    return len(messages)
