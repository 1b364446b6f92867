"""The in-memory context store both runtimes share: rows from files and from compacted topics.

Each table merges two sources by row id: the table's file in `enrich.context_dir` (re-read when
its mtime/size/inode changes, checked at most every `check_seconds`, never per event, and parsed
in a background thread while events keep the rows in use) and, in the
worker, the compacted `<prefix>-context-<table>` topic. A topic row overrides the file row with the
same id; a tombstone removes the topic's row, so the file's row (if any) shows again: to delete a
file row, edit the file. A table counts as loaded once it has a file or has received a topic
message; lookups in a table that is not loaded are reported as missing context, not as "no row".

The version (provenance on every event) is a digest of the rows in use, kept incrementally (XOR
of row digests), so two workers holding the same rows report the same version whatever the
order the rows arrived in.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from pipeline.context.loader import ContextError, TableFile, load_directory, load_file, signature, table_files
from pipeline.context.models import (
    ROW_MODELS,
    TABLES,
    AssetRow,
    PortRange,
    PortsRow,
    Row,
    TicketRow,
    UserRow,
    WorkspaceRow,
)
from pipeline.enrichers.background import run_in_thread

log = logging.getLogger(__name__)
RELOAD_CHECK_SECONDS = 10.0


def _user_keys(row: UserRow) -> list[str]:
    return [row.name.lower(), f"id:{row.id}"] + ([row.email.lower()] if row.email else [])


def _asset_keys(row: AssetRow) -> list[str]:
    return [row.host, f"short:{row.host.split('.', 1)[0]}"]


def _ticket_keys(row: TicketRow) -> list[str]:
    return [f"{row.employee.lower()}|{row.workspace}"]


def _ports_keys(row: PortsRow) -> list[str]:
    return [f"group:{row.group_id}"] if row.group_id else [f"tag:{row.tag}"]


INDEX_KEYS: dict[str, Callable] = {
    "users": _user_keys,
    "assets": _asset_keys,
    "tickets": _ticket_keys,
    "ports": _ports_keys,
    "workspaces": lambda row: [row.id],
}


def _row_digest(table: str, row: Row) -> int:
    data = f"{table}\0{row.key}\0{row.model_dump_json()}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class Table:
    """One context table: file rows and topic rows merged by id (topic wins), with a lookup index."""

    def __init__(self, name: str):
        self.name = name
        self.index_keys = INDEX_KEYS[name]
        self.file_rows: dict[str, Row] = {}
        self.topic_rows: dict[str, Row] = {}
        self.rows: dict[str, Row] = {}
        self.index: dict[str, set[str]] = {}
        self.digest = 0
        self.from_file = False
        self.from_topic = False

    @property
    def loaded(self) -> bool:
        """True once a file or a topic message gave this table content (possibly empty)."""
        return self.from_file or self.from_topic

    def lookup(self, index_key: str) -> list[Row]:
        """Rows under one index key, in id order (deterministic when several match)."""
        return [self.rows[key] for key in sorted(self.index.get(index_key, ()))]

    def set_file_rows(self, rows: dict[str, Row] | None) -> None:
        """Replace the file's rows (None: the file is gone)."""
        previous, self.file_rows, self.from_file = self.file_rows, rows or {}, rows is not None
        for key in set(previous) | set(self.file_rows):
            if key not in self.topic_rows:
                self._put(key, self.file_rows.get(key))

    def upsert(self, row: Row) -> None:
        """A row from the topic."""
        self.from_topic = True
        self.topic_rows[row.key] = row
        self._put(row.key, row)

    def delete(self, key: str) -> None:
        """A tombstone from the topic: the file's row with this id, if any, applies again."""
        self.from_topic = True
        self.topic_rows.pop(key, None)
        self._put(key, self.file_rows.get(key))

    def _put(self, key: str, row: Row | None) -> None:
        old = self.rows.get(key)
        if old == row:
            return
        if old is not None:
            self.digest ^= _row_digest(self.name, old)
            for ikey in self.index_keys(old):
                self.index[ikey].discard(key)
                if not self.index[ikey]:
                    del self.index[ikey]
            del self.rows[key]
        if row is not None:
            self.digest ^= _row_digest(self.name, row)
            self.rows[key] = row
            for ikey in self.index_keys(row):
                self.index.setdefault(ikey, set()).add(key)


class ContextStore:
    """Users, assets, tickets and allowed ports, with the lookups the context enricher needs."""

    def __init__(
        self,
        directory: Path | None = None,
        check_seconds: float = RELOAD_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ):
        self.directory = Path(directory) if directory is not None else None
        self.check_seconds, self.clock, self.background = check_seconds, clock, background
        self._pending: Future[list[tuple[str, TableFile | None]]] | None = None
        self.tables: dict[str, Table] = {name: Table(name) for name in TABLES}
        self._files: dict[str, TableFile] = {}
        if self.directory is not None:
            for loaded in load_directory(self.directory).values():  # at start, bad rows stop startup
                self._use_file(loaded)
        self._next_check = clock() + check_seconds

    @property
    def version(self) -> str:
        """Digest of the rows in use (`none` before any table is loaded)."""
        if not self.any_loaded():
            return "none"
        digest = 0
        for table in self.tables.values():
            digest ^= table.digest
        return f"{digest:016x}"[:12]

    def loaded(self, table: str) -> bool:
        """True when `table` has a source (a file, or at least one topic message)."""
        return self.tables[table].loaded

    def any_loaded(self) -> bool:
        """True when some table has a source: otherwise context is simply not configured."""
        return any(t.loaded for t in self.tables.values())

    def counts(self) -> dict[str, int]:
        """Rows per table, for logs."""
        return {name: len(t.rows) for name, t in self.tables.items()}

    # -- lookups -------------------------------------------------------------------------------

    def user_by_name(self, name: str) -> UserRow | None:
        """The user whose name or e-mail is `name` (case-insensitive), or None."""
        found = self.tables["users"].lookup(name.lower())
        return found[0] if found else None  # type: ignore[return-value]

    def user_by_id(self, user_id: str) -> UserRow | None:
        """The user with this id, or None."""
        found = self.tables["users"].lookup(f"id:{user_id}")
        return found[0] if found else None  # type: ignore[return-value]

    def workspace(self, workspace_id: str) -> WorkspaceRow | None:
        """The workspaces row of this id, or None."""
        return self.tables["workspaces"].rows.get(workspace_id)  # type: ignore[return-value]

    def asset_by_host(self, host: str) -> AssetRow | None:
        """The asset named `host` (case-insensitive; a FQDN also matches a row with its short name)."""
        host = host.lower().rstrip(".")
        table = self.tables["assets"]
        row = table.rows.get(host)
        if row is None and "." in host:
            row = table.rows.get(host.split(".", 1)[0])
        if row is None:
            found = table.lookup(f"short:{host}")
            row = found[0] if len(found) == 1 else None  # a short name shared by two FQDNs names neither
        return row  # type: ignore[return-value]

    def ticket(self, ticket_id: str) -> TicketRow | None:
        """The ticket with this id, or None."""
        return self.tables["tickets"].rows.get(ticket_id)  # type: ignore[return-value]

    def tickets_for(self, employee: str | Iterable[str], workspace: str, at: datetime) -> list[TicketRow]:
        """Tickets of the employee (any of the given names, e-mails or ids) valid for `workspace` at `at`."""
        names = [employee] if isinstance(employee, str) else list(employee)
        found: dict[str, TicketRow] = {}
        for name in names:
            for row in self.tables["tickets"].lookup(f"{name.lower()}|{workspace}"):
                if row.covers(at):  # type: ignore[attr-defined]
                    found[row.key] = row  # type: ignore[assignment]
        return [found[key] for key in sorted(found)]

    def allowed_ports(self, group_id: str | None, tags: Iterable[str] = ()) -> list[PortRange]:
        """Ports allowed for a security group: its own row plus the rows of each of its tags."""
        keys = ([f"group:{group_id}"] if group_id else []) + [f"tag:{tag}" for tag in tags]
        table = self.tables["ports"]
        return [port for key in keys for row in table.lookup(key) for port in row.ports]  # type: ignore[attr-defined]

    # -- updates -------------------------------------------------------------------------------

    def apply_message(self, table: str, key: bytes | str | None, value: bytes | str | None) -> str:
        """Apply one compacted-topic message (value None = tombstone); ContextError says what is wrong."""
        if table not in self.tables:
            raise ContextError([f"unknown context table {table!r}"], what="context update")
        key_text = key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key
        if value is None:
            if not key_text:
                raise ContextError(["tombstone without a key"], what=f"context update for {table}")
            self.tables[table].delete(key_text)
            return "delete"
        try:
            row = ROW_MODELS[table].model_validate_json(value)
        except ValidationError as exc:
            raise ContextError(
                [f"key {key_text!r}: {'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()],
                what=f"context update for {table}",
            ) from None
        if key_text is not None and key_text != row.key:
            raise ContextError(
                [f"key {key_text!r} is not the row's id {row.key!r}; key each message by its id"],
                what=f"context update for {table}",
            )
        self.tables[table].upsert(row)
        return "upsert"

    def maybe_reload(self) -> bool:
        """Swap in files a background re-read finished; start one if `check_seconds` have passed.

        The event path only looks at a Future (O(1)); parsing a big table file happens beside it,
        and events keep the rows in use until the new ones are complete. With `background=False`
        the re-read happens here (replays, tests).
        """
        if self.directory is None:
            return False
        changed = False
        if self._pending is not None and self._pending.done():
            pending, self._pending = self._pending, None
            changed = self._apply(pending.result()) if pending.exception() is None else False
            if pending.exception() is not None:
                log.error("context files not reloaded, keeping the rows in use", exc_info=pending.exception())
        now = self.clock()
        if self._pending is None and now >= self._next_check:
            self._next_check = now + self.check_seconds
            if self.background:
                self._pending = run_in_thread(self._plan, "secmon-context-reload")
            else:
                changed = self._apply(self._plan()) or changed
        return changed

    def reload(self) -> bool:
        """Re-read table files that appeared, changed or vanished, now; a bad file keeps its last good rows."""
        return self._apply(self._plan())

    def _plan(self) -> list[tuple[str, TableFile | None]]:
        """The files that changed: (table, newly loaded file, or None when it is gone). Reads, never mutates."""
        try:
            paths = table_files(self.directory) if self.directory is not None else {}
        except ContextError as exc:
            log.warning("context files not reloaded, keeping the rows in use: %s", exc)
            return []
        plan: list[tuple[str, TableFile | None]] = []
        for table in TABLES:
            path, current = paths.get(table), self._files.get(table)
            if path is None:
                if current is not None:
                    log.warning("context table %s: %s is gone; its rows are dropped", table, current.path)
                    plan.append((table, None))
                continue
            try:
                if current is not None and current.path == path and signature(path) == current.signature:
                    continue
                plan.append((table, load_file(path, table)))
            except (OSError, ContextError) as exc:
                log.warning("context table %s not reloaded, keeping its last good rows: %s", table, exc)
        return plan

    def _apply(self, plan: list[tuple[str, TableFile | None]]) -> bool:
        for table, loaded in plan:
            if loaded is None:
                self._files.pop(table, None)
                self.tables[table].set_file_rows(None)
            else:
                self._use_file(loaded)
        if plan:
            log.info("context reloaded: %s, version %s", self.counts(), self.version)
        return bool(plan)

    def _use_file(self, loaded: TableFile) -> None:
        self._files[loaded.table] = loaded
        self.tables[loaded.table].set_file_rows(loaded.rows)
