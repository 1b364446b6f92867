"""An employee opens customer data outside their usual working hours (in their own timezone)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Finding, StateSpec
from detectors.rules._staff import access_text, off_hours, staff_entity, timezone
from schemas.event import Event

META = DetectorMeta(
    id="staff_access_off_hours",
    title="Staff access to customer data outside working hours",
    description="An employee opened customer data outside the working hours and days the users context "
    "table gives for them, in their timezone. Without known hours nothing alerts: the context "
    "enricher lists user.working_hours (or user) in secmon.context.missing instead.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("staff.access",),
    state=StateSpec(kind="none", key=("user.name",)),
    tags=("policy.staff_access_justified", "attack.collection", "attack.t1213"),
    dedup_period=timedelta(hours=8),
)


class Params(BaseModel):
    """Tolerance around the shift."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grace_minutes: int = Field(
        30,
        ge=0,
        le=720,
        description="Minutes before the shift starts and after it ends that still count as working hours.",
    )
    default_days: str = Field("Mon-Fri", description="Working days of users whose row gives hours but no days.")


def hours_of(event: Event) -> tuple[str, str | None, str] | None:
    """(hours, days, timezone) from the event's context, or None when unknown."""
    context = event.secmon.context
    if context is None or not context.user_working_hours or not context.user_timezone:
        return None
    return context.user_working_hours, context.user_working_days, context.user_timezone


def step(state, event: Event, params: Params):
    """One finding per access outside the employee's shift."""
    known = hours_of(event)
    if known is None:
        return None, []
    hours, days, tz = known
    days = days or params.default_days
    if not off_hours(event.timestamp, hours, days, tz, params.grace_minutes):
        return None, []
    local = event.timestamp.astimezone(timezone(tz))
    message = f"{access_text(event)} at {local:%a %H:%M} {tz}, outside their working hours ({hours} {days})"
    return None, [
        Finding(
            message=message,
            entity=staff_entity(event),
            timestamp=event.timestamp,
            event_ids=(event.event.id,),
            datasets=(event.event.dataset,),
        )
    ]


def key(event: Event) -> str | None:
    """The employee, for accesses whose working hours are known (others can never alert)."""
    if hours_of(event) is None or event.user is None or not event.user.name:
        return None
    return event.user.name


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
