"""Reading context tables from files: CSV, JSON (a list of objects, or JSON lines) and YAML.

A directory holds at most one file per table, named after it: `users.csv`, `assets.yaml`,
`tickets.jsonl`, `ports.json`... Every row is validated; every problem is reported with its
`file:line` and all of them at once (a bad file never half-loads), so one run lists everything
to fix. CSV: a header row names the columns, empty cells are absent values, `#` starts a comment
line. YAML: a list of mappings, or a mapping with the table name as its only key.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.context.models import ROW_MODELS, TABLES, Row
from schemas.errors import SecmonError

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json", ".yaml": "yaml", ".yml": "yaml"}
SHOWN_PROBLEMS = 50
Record = tuple[int, Any]  # (line number, the row as read)


class ContextError(SecmonError, ValueError):
    """Context data that cannot be used; the message lists every problem with its location."""

    def __init__(self, problems: Iterable[str], what: str = "context tables"):
        self.problems = list(problems)
        shown = self.problems[:SHOWN_PROBLEMS]
        more = len(self.problems) - len(shown)
        super().__init__(
            f"{what}: {len(self.problems)} problem(s); fix them and load again:\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more > 0 else "")
        )


@dataclass(frozen=True)
class TableFile:
    """One table's file as loaded: its rows (by key) and the stat signature reloads compare."""

    table: str
    path: Path
    rows: dict[str, Row]
    signature: tuple[int, int, int]


def signature(path: Path) -> tuple[int, int, int]:
    """(mtime ns, size, inode): changes whenever the file is rewritten or replaced."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def table_files(directory: Path) -> dict[str, Path]:
    """The table files of a directory (`<table>.<csv|json|jsonl|ndjson|yaml|yml>`); two for one table is an error."""
    if not directory.is_dir():
        raise ContextError([f"{directory}: not a directory; create it or unset enrich.context_dir"])
    found: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.stem in TABLES and path.suffix.lower() in FORMATS and path.is_file():
            found.setdefault(path.stem, []).append(path)
    problems = [
        f"{directory}: {len(paths)} files for table {table} ({', '.join(p.name for p in paths)}); keep one"
        for table, paths in found.items()
        if len(paths) > 1
    ]
    if problems:
        raise ContextError(problems)
    return {table: paths[0] for table, paths in found.items()}


def load_directory(directory: Path) -> dict[str, TableFile]:
    """Every table file of `directory`, validated; all problems of all files are raised together."""
    loaded, problems = {}, []
    for table, path in table_files(directory).items():
        try:
            loaded[table] = load_file(path, table)
        except ContextError as exc:
            problems += exc.problems
    if problems:
        raise ContextError(problems, what=f"context tables in {directory}")
    return loaded


def load_file(path: Path, table: str) -> TableFile:
    """One file's rows for `table`, validated; raises ContextError with every bad row's file:line."""
    if table not in ROW_MODELS:
        raise ContextError([f"{path}: unknown table {table!r}; use one of {', '.join(TABLES)}"])
    try:
        sig = signature(path)
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ContextError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError as exc:
        raise ContextError([f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8"]) from None
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ContextError([f"{path}: unknown format; name it .csv, .json, .jsonl, .ndjson, .yaml or .yml"])
    records, problems = {"csv": read_csv, "json": read_json, "yaml": read_yaml}[fmt](text, path, table)
    rows, row_problems = validate(records, path, table)
    if problems or row_problems:
        raise ContextError(problems + row_problems, what=str(path))
    return TableFile(table, path, rows, sig)


def validate(records: list[Record], path: Path, table: str) -> tuple[dict[str, Row], list[str]]:
    """Validated rows by key, and a `file:line: field: why` problem for each bad or duplicate row."""
    model = ROW_MODELS[table]
    rows: dict[str, Row] = {}
    first_line: dict[str, int] = {}
    problems = []
    for line, data in records:
        if not isinstance(data, dict):
            problems.append(f"{path}:{line}: expected an object of {table} columns, got {type(data).__name__}")
            continue
        try:
            row = model.model_validate(data)
        except ValidationError as exc:
            problems += [f"{path}:{line}: {'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
            continue
        if row.key in rows:
            problems.append(f"{path}:{line}: duplicate id {row.key!r} (first at line {first_line[row.key]})")
            continue
        rows[row.key], first_line[row.key] = row, line
    return rows, problems


def read_csv(text: str, path: Path, table: str) -> tuple[list[Record], list[str]]:
    """Rows of a CSV file with a header; unknown columns are reported once, on line 1."""
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    known = set(ROW_MODELS[table].model_fields)
    problems = [
        f"{path}:1: unknown column {name!r} (known: {', '.join(sorted(known))})" for name in header if name not in known
    ]
    records: list[Record] = []
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1  # a quoted cell may span lines: report where the row starts
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if len(cells) > len(header):
            problems.append(f"{path}:{line}: {len(cells)} cells but the header names {len(header)} columns")
            continue
        records.append(
            (line, {name: cell for name, cell in zip(header, cells, strict=True) if name in known and cell.strip()})
        )
    return records, problems


def read_json(text: str, path: Path, table: str) -> tuple[list[Record], list[str]]:
    """Rows of a JSON array of objects, of `{"<table>": [...]}`, or of JSON lines."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _json_array(text, path, text.index("["))
    if stripped.startswith("{") and "\n" in stripped.strip():
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # not one document: read it as JSON lines below
        if isinstance(whole, dict):
            if isinstance(whole.get(table), list) and len(whole) == 1:
                return _json_array(text, path, text.index("[", text.index(f'"{table}"')))
            return [], [f"{path}:1: one JSON object; write a list of {table} objects or one object per line"]
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})")
    return records, problems


def _json_array(text: str, path: Path, start: int) -> tuple[list[Record], list[str]]:
    """The elements of the array at `start`, each with the line it starts on."""
    decoder = json.JSONDecoder()
    records: list[Record] = []
    pos = _skip(text, start + 1)
    while pos < len(text) and text[pos] != "]":
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return records, [f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})"]
        records.append((text.count("\n", 0, pos) + 1, value))
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif pos >= len(text) or text[pos] != "]":
            return records, [f"{path}:{text.count(chr(10), 0, pos) + 1}: invalid JSON (expected , or ] after a row)"]
    if pos >= len(text):
        return records, [f"{path}:{text.count(chr(10)) + 1}: invalid JSON (the list is not closed with ])"]
    return records, []


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def read_yaml(text: str, path: Path, table: str) -> tuple[list[Record], list[str]]:
    """Rows of a YAML list (or `<table>: [...]`), each with the line it starts on."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [f"{path}:{line}: invalid YAML ({getattr(exc, 'problem', None) or exc})"]
    if node is None:
        return [], []
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict) and list(data) == [table]:
        node, data = node.value[0][1], data[table]
    if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
        return [], [f"{path}:{node.start_mark.line + 1}: expected a list of {table} rows (or `{table}:` with a list)"]
    return [(item.start_mark.line + 1, value) for item, value in zip(node.value, data, strict=True)], []
