"""Event-time clock for replays: drives the timed detectors from the events' own timestamps.

Live, the Faust worker ticks on wall time; when replaying files (embedded runner, case files) the
clock advances with the events, so a replay of last month raises the same deadline and heartbeat
alerts as living through it. A detector sets its finding's timestamp to the deadline itself, so
one tick after a long quiet gap still dates the alert correctly. Ticks also drop idle entities
(every detector's, timed or not); a tick costs what is due, not the size of the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from detectors.engine import Engine
from schemas.alert import Alert


@dataclass
class EventClock:
    """Ticks the engine at most once per `every` of event time."""

    engine: Engine
    every: timedelta = timedelta(minutes=1)
    latest: datetime | None = None
    next_at: datetime | None = None

    def observe(self, ts: datetime) -> list[Alert]:
        """Note an event's time; tick when event time has moved `every` past the last tick."""
        if self.latest is None or ts > self.latest:
            self.latest = ts
        if self.next_at is None:  # the first tick, at the first event, starts the clocks of seeded entities
            self.next_at = ts + self.every
            return self.engine.tick(ts)
        if ts < self.next_at:
            return []
        self.next_at = ts + self.every
        return self.engine.tick(ts)

    def finish(self, until: datetime | None = None) -> list[Alert]:
        """A last tick at `until` (default: the latest event time seen)."""
        at = until or self.latest
        if at is None:
            return []
        return self.engine.tick(at)
