"""Parse throughput per source: records/s and events/s of each normalizer on one core.

    python -m bench.parse_throughput [--records 20000]

Input is the valid records of each source's golden fixtures (tests/data/normalizers/<source>/),
read the way the embedded runner reads them and repeated up to --records (the fixtures' error
cases are left out: they are over-represented there). Normalize only (no enrichment, no
detection). Prints a table.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from pipeline.normalizers.base import ParseOptions
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record
from pipeline.readers import read_records

DATA = Path(__file__).parents[1] / "tests" / "data" / "normalizers"


def records_of(source: str) -> list:
    normalizer = NORMALIZERS[source]
    parse_options = ParseOptions(default_year=2026)
    records = []
    for path in sorted((DATA / source).glob("*")):
        if path.is_file() and not path.name.endswith("-expected.json"):
            records += [
                r
                for r in read_records(str(path), normalizer, 1024 * 1024)
                if process_record(r, normalizer, [], parse_options).events
            ]
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    parse_options = ParseOptions(default_year=2026)
    print(f"{os.cpu_count()} cores, pinned to 1; {args.records:,} records per source")
    print(f"| {'source':<14} | {'records/s':>10} | {'events/s':>10} | {'us/record':>9} |")
    print(f"|{'-' * 16}|{'-' * 12}|{'-' * 12}|{'-' * 11}|")
    for source in sorted(NORMALIZERS):
        base = records_of(source)
        if not base:
            continue
        batch = (base * (args.records // len(base) + 1))[: args.records]
        normalizer = NORMALIZERS[source]
        events = 0
        started = time.perf_counter()
        for record in batch:
            events += len(process_record(record, normalizer, [], parse_options).events)
        elapsed = time.perf_counter() - started
        print(
            f"| {source:<14} | {len(batch) / elapsed:>10,.0f} | {events / elapsed:>10,.0f} | "
            f"{elapsed / len(batch) * 1e6:>9.1f} |"
        )


if __name__ == "__main__":
    main()
