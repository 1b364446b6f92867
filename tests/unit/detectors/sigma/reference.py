"""The reference our matcher is compared with: pysigma-backend-sqlite over a SQLite table of the records.

Each record is flattened exactly as the matcher sees it (`detectors.sigma.flatten`), one row per
record (rowid = its position + 1), one column per field name, `COLLATE NOCASE` (Sigma matching is
case-insensitive); columns holding only JSON numbers get NUMERIC affinity so `|gt` compares numbers.
`_keywords` holds the text keyword rules search. REGEXP is Python's `re.search`, false on NULL.
The rules are converted by the backend with the same pySigma pipeline our compiler applies.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from detectors.sigma.flatten import text_of
from detectors.sigma.mapping import pipeline_for, source_for

KEYWORDS = "_keywords"
NO_COLUMN = re.compile(r"no such column: (.+)$")


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class Reference:
    """A SQLite table of flattened records and the backend's queries run over it."""

    def __init__(self, rows: Sequence[tuple[dict[str, Any], str]]) -> None:
        """rows: (flattened fields, keyword text) per record, in record order."""
        self.db = sqlite3.connect(":memory:")
        self.db.create_function("regexp", 2, _regexp, deterministic=True)
        self.columns: dict[str, str] = {}  # lowercased name -> name (SQLite names ignore case)
        numeric = _numeric_columns(fields for fields, _ in rows)
        names = sorted({name for fields, _ in rows for name in fields} | {KEYWORDS}, key=str.lower)
        for name in names:
            self.columns.setdefault(name.lower(), name)
        definitions = ", ".join(
            f"{quote(n)} {'NUMERIC' if n in numeric else 'TEXT'} COLLATE NOCASE" for n in self.columns.values()
        )
        self.db.execute(f"CREATE TABLE logs ({definitions})")
        for number, (fields, text) in enumerate(rows, 1):
            self._insert(number, fields, text, numeric)

    def _insert(self, rowid: int, fields: dict[str, Any], text: str, numeric: set[str]) -> None:
        values = {self.columns[n.lower()]: (v if n in numeric else text_of(v)) for n, v in fields.items()}
        values[KEYWORDS] = text
        names = ", ".join(["rowid", *map(quote, values)])
        marks = ", ".join("?" * (len(values) + 1))
        self.db.execute(f"INSERT INTO logs ({names}) VALUES ({marks})", (rowid, *values.values()))

    def matches(self, query: str) -> list[int]:
        """Row numbers the backend's `SELECT * FROM logs WHERE ...` selects (absent columns read NULL)."""
        sql = query.replace("SELECT * FROM logs WHERE", "SELECT rowid FROM logs WHERE", 1)
        return sorted(row[0] for row in self.select(sql))

    def select(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of any query over the table (absent columns are added and read NULL)."""
        while True:
            try:
                return list(self.db.execute(sql))
            except sqlite3.OperationalError as exc:
                missing = NO_COLUMN.search(str(exc))
                if missing is None:
                    raise
                self._add_column(missing.group(1))

    def _add_column(self, name: str) -> None:
        name = name.strip("`")
        self.columns[name.lower()] = name
        self.db.execute(f"ALTER TABLE logs ADD COLUMN {quote(name)} TEXT COLLATE NOCASE")


def _numeric_columns(rows: Iterable[dict[str, Any]]) -> set[str]:
    kinds: dict[str, bool] = {}
    for fields in rows:
        for name, value in fields.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            kinds[name] = kinds.get(name, True) and number
    return {name for name, number in kinds.items() if number}


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def queries(rule: SigmaRule, mode: str, placeholders: dict[str, list[str]] | None = None) -> list[str]:
    """The backend's queries for one rule, through the pipeline our compiler uses for `mode`."""
    source = (
        source_for((rule.logsource.category, rule.logsource.product, rule.logsource.service)) if mode == "ecs" else None
    )
    backend = sqliteBackend(pipeline_for(source, placeholders or {}), fulltext_field=KEYWORDS)
    return backend.convert_rule(rule)


def load_fresh(paths: Iterable[Path]) -> list[SigmaRule]:
    """The detection rules of the files, parsed anew (conversion changes a rule in place)."""
    collection = SigmaCollection.load_ruleset(list(paths), recursion_pattern="**/*.y*ml", resolve_references=False)
    return [r for r in collection.rules if isinstance(r, SigmaRule)]
