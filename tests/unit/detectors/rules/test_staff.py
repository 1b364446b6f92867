"""Working-hours arithmetic of the staff-access detectors: parsing, timezones, night shifts, week wrap."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from detectors.rules._staff import off_hours, working_days, working_hours


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_parsing():
    assert working_hours("09:00-18:00") == (540, 1080)
    assert working_hours(" 22:30 - 06:00 ") == (1350, 360)
    assert working_hours("00:00-24:00") == (0, 1440)
    assert working_days("Mon-Fri") == frozenset(range(5))
    assert working_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert working_days("Mon, Wed Sat") == frozenset({0, 2, 5})


@pytest.mark.parametrize("bad", ["9-18", "09:00-25:00", "09:60-18:00", "09:00-09:00", "24:00-08:00"])
def test_bad_hours_say_why(bad):
    with pytest.raises(ValueError, match="working hours"):
        working_hours(bad)


def test_bad_days_say_why():
    with pytest.raises(ValueError, match="day names like Mon-Fri"):
        working_days("weekdays")


@pytest.mark.parametrize(
    ("at", "hours", "days", "tz", "off"),
    [
        ("2026-11-30 08:30", "09:00-18:00", "Mon-Fri", "Europe/Berlin", False),  # 09:30 CET
        ("2026-11-30 07:30", "09:00-18:00", "Mon-Fri", "Europe/Berlin", True),  # 08:30 CET
        ("2026-07-06 07:30", "09:00-18:00", "Mon-Fri", "Europe/Berlin", False),  # 09:30 CEST (summer time)
        ("2026-11-30 08:30", "09:00-18:00", "Mon-Fri", "America/New_York", True),
        ("2026-11-29 10:00", "09:00-18:00", "Mon-Fri", "UTC", True),  # Sunday
        ("2026-12-05 02:30", "22:00-06:00", "Mon-Fri", "UTC", False),  # Friday's night shift
        ("2026-11-30 02:30", "22:00-06:00", "Mon-Fri", "UTC", True),  # Monday 02:30: Sunday has no shift
        ("2026-11-30 02:30", "22:00-06:00", "Sun", "UTC", False),  # Sunday's shift wraps into Monday
        ("2026-11-29 12:00", "00:00-24:00", "Mon-Sun", "UTC", False),
    ],
)
def test_off_hours(at, hours, days, tz, off):
    assert off_hours(utc(at), hours, days, tz) is off


def test_grace_widens_both_ends():
    assert off_hours(utc("2026-11-30 07:40"), "09:00-18:00", "Mon-Fri", "Europe/Berlin")
    assert not off_hours(utc("2026-11-30 07:40"), "09:00-18:00", "Mon-Fri", "Europe/Berlin", grace_minutes=30)
    assert not off_hours(utc("2026-11-30 17:29"), "09:00-18:00", "Mon-Fri", "Europe/Berlin", grace_minutes=30)
    assert off_hours(utc("2026-11-30 17:31"), "09:00-18:00", "Mon-Fri", "Europe/Berlin", grace_minutes=30)
