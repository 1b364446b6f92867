"""The fault suite's own logic: its input, its log timeline, how a row counts lost and doubled."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bench.faults import Row, records, timeline
from bench.soak import pct


def test_records_hold_every_burst_in_time_order() -> None:
    rows = records(3000, bursts=3)
    assert len(rows) == 3000
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    victims = {r["user"] for r in rows if r["user"].startswith("victim")}
    assert victims == {"victim0@ws1.example", "victim1@ws1.example", "victim2@ws1.example"}


def test_timeline_reads_the_first_marks_after_the_fault(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(
        "2026-12-07 10:00:00,000 INFO faust.app.base: Executing _on_partitions_assigned\n"  # before: ignored
        "2026-12-07 10:00:31,500 INFO faust.app.base: Executing _on_partitions_assigned\n"
        "2026-12-07 10:00:40,000 INFO faust.tables.recovery: [^---Recovery]: Recovery complete\n"
        "\x08\x1b[?25h2026-12-07 10:00:41,000 INFO faust.tables.recovery: [^---Recovery]: Worker ready\n"
    )
    since = datetime(2026, 12, 7, 10, 0, 1, tzinfo=timezone.utc).timestamp()
    assert timeline(log, since) == "assigned +30s, recovered +39s, ready +40s"


def test_row_counts_missing_pages_as_lost_and_second_webhook_ids_as_doubled() -> None:
    row = Row("webhook_500", False, None, None, 100, 100, 4, 4, notified=3, renotified=1, dead_letters=0)
    assert (row.lost, row.doubled) == (1, 1)


def test_percentiles_of_few_samples() -> None:
    assert pct([], 99) is None
    assert pct([2.0], 99) == 2.0
    assert pct([float(i) for i in range(1, 101)], 50) == 50.5
