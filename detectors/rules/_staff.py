"""What the staff-access detectors share: working-hours arithmetic and the alert entity.

Working hours are local wall-clock times (`09:00-18:00`) on working days (`Mon-Fri`) in an IANA
timezone. A shift may cross midnight (`22:00-06:00`): its early-morning part belongs to the day
the shift started, so a Friday night shift covers Saturday 02:00 and Monday 02:00 is off hours.
The same parsers validate the users context table (pipeline/context/models.py), so a value a
detector reads has always been checked once at load.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detectors.base import Entity
from schemas.event import Event, User

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 1440
WEEK_MINUTES = 7 * DAY_MINUTES
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def working_hours(text: str) -> tuple[int, int]:
    """`09:00-18:00` -> (540, 1080) minutes after local midnight; ValueError says what is wrong."""
    match = _HOURS.match(text)
    if match is None:
        raise ValueError(f"working hours {text!r} are not HH:MM-HH:MM (e.g. 09:00-18:00)")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or eh > 24 or sm > 59 or em > 59 or (eh == 24 and em):
        raise ValueError(f"working hours {text!r} hold a time that does not exist (use 00:00 to 24:00)")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise ValueError(f"working hours {text!r} start and end at the same time; write 00:00-24:00 for all day")
    return start, end


def working_days(text: str) -> frozenset[int]:
    """`Mon-Fri`, `Mon,Wed,Sat` or `Sun-Thu` -> weekday numbers (Monday = 0); ValueError when unreadable."""
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"working days {text!r} are not day names like Mon-Fri or Mon,Wed,Sat")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def timezone(name: str) -> ZoneInfo:
    """The IANA timezone `name` (e.g. Europe/Berlin); ValueError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA timezone name such as Europe/Berlin") from None


def off_hours(at: datetime, hours: str, days: str, tz: str, grace_minutes: int = 0) -> bool:
    """True when instant `at` falls outside every shift (widened by `grace_minutes` at both ends)."""
    start, end = working_hours(hours)
    local = at.astimezone(timezone(tz))
    minute = local.weekday() * DAY_MINUTES + local.hour * 60 + local.minute
    length = (end - start) % DAY_MINUTES or DAY_MINUTES
    for day in working_days(days):
        shift_start = day * DAY_MINUTES + start - grace_minutes
        shift_end = day * DAY_MINUTES + start + length + grace_minutes
        # compare in the previous, this and the next week so shifts wrapping Sunday->Monday count
        if any(shift_start <= minute + k * WEEK_MINUTES < shift_end for k in (-1, 0, 1)):
            return False
    return True


def staff_entity(event: Event) -> Entity:
    """Entity of a staff-access finding: the employee and the customer workspace."""
    return Entity(
        user=User(name=event.user.name, id=event.user.id) if event.user else None, organization=event.organization
    )


def access_text(event: Event) -> str:
    """`dana read 3 records of workspace/documents in ws-acme`, for messages."""
    access = event.secmon.staff_access
    count = access.record_count if access and access.record_count is not None else 0
    workspace = event.organization.id if event.organization else "an unknown workspace"
    return (
        f"{event.user.name} {access.action if access else 'accessed'} {count:,} record{'' if count == 1 else 's'}"
        f" of {access.resource if access else 'customer data'} in {workspace}"
    )
