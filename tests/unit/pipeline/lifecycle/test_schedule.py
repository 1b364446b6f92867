"""What the worker's lifecycle schedule runs when: a table of (clock, history) -> jobs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.lifecycle.schedule import History, due, latest_slot
from pipeline.settings import LifecycleSettings

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
TODAY_SLOT = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
CFG = LifecycleSettings()  # retention hourly, backup 02:00 UTC, restore test weekly, retry after 60 min


def test_latest_slot_is_today_after_the_time_and_yesterday_before_it():
    assert latest_slot(NOW, "02:00") == TODAY_SLOT
    assert latest_slot(NOW, "23:30") == datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc)
    assert latest_slot(TODAY_SLOT, "02:00") == TODAY_SLOT


@pytest.mark.parametrize(
    "history, last_retention, expected",
    [
        # a fresh deployment: retention, and a first backup at once (verify waits for a backup)
        (History(), None, ["retention", "backup"]),
        # backed up after today's slot, tested 3 days ago, retention ran 10 min ago: nothing
        (
            History(
                backup_ok=TODAY_SLOT + timedelta(minutes=4), backup_tried=TODAY_SLOT, verify_ok=NOW - timedelta(days=3)
            ),
            NOW - timedelta(minutes=10),
            [],
        ),
        # retention ran 61 min ago
        (History(backup_ok=TODAY_SLOT, verify_ok=NOW - timedelta(days=3)), NOW - timedelta(minutes=61), ["retention"]),
        # last backup yesterday: today's is due
        (History(backup_ok=TODAY_SLOT - timedelta(days=1), verify_ok=NOW - timedelta(days=1)), NOW, ["backup"]),
        # today's backup failed 20 min ago: wait for the retry delay; 70 min ago: try again
        (
            History(
                backup_ok=TODAY_SLOT - timedelta(days=1),
                backup_tried=NOW - timedelta(minutes=20),
                verify_ok=NOW - timedelta(days=1),
            ),
            NOW,
            [],
        ),
        (
            History(
                backup_ok=TODAY_SLOT - timedelta(days=1),
                backup_tried=NOW - timedelta(minutes=70),
                verify_ok=NOW - timedelta(days=1),
            ),
            NOW,
            ["backup"],
        ),
        # restore test 7 days old: due; one attempt 5 min ago: not yet
        (History(backup_ok=TODAY_SLOT, verify_ok=NOW - timedelta(days=7)), NOW, ["verify"]),
        (
            History(backup_ok=TODAY_SLOT, verify_ok=NOW - timedelta(days=8), verify_tried=NOW - timedelta(minutes=5)),
            NOW,
            [],
        ),
        # never tested but a backup exists
        (History(backup_ok=TODAY_SLOT), NOW, ["verify"]),
    ],
)
def test_due_jobs(history, last_retention, expected):
    assert due(NOW, history, CFG, last_retention) == expected


def test_backups_and_restore_tests_can_be_left_to_cron():
    cfg = LifecycleSettings(backup_at=None, verify_every_days=0)
    assert due(NOW, History(), cfg, None) == ["retention"]


def test_a_restore_test_interval_beyond_the_policy_is_refused():
    with pytest.raises(ValueError, match="less than or equal to 90"):
        LifecycleSettings(verify_every_days=91)


def test_a_job_that_raises_is_logged_and_counted_never_raised(caplog):
    import asyncio

    from pipeline import metrics
    from pipeline.agents.lifecycle import _guarded

    async def broken():
        raise RuntimeError("cannot create index secmon-audit-000001")

    failures = metrics.LIFECYCLE_JOBS.labels(job="backup", outcome="failure")
    before = failures._value.get()
    asyncio.run(_guarded("backup", broken()))
    assert failures._value.get() == before + 1
    assert "backup failed: RuntimeError: cannot create index" in caplog.text
