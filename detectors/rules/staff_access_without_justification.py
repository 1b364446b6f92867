"""An employee opens a customer workspace's data with no ticket valid for that workspace at that time."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Finding, StateSpec
from detectors.rules._staff import access_text, staff_entity
from schemas.event import Event

META = DetectorMeta(
    id="staff_access_without_justification",
    title="Staff access to customer data without a valid ticket",
    description="An employee read or changed a customer workspace's data while no ticket or access "
    "justification of theirs was valid for that workspace at that time (ticket table from the "
    "context enricher: secmon.context.ticket_valid false). A ticket id the event cites counts only "
    "when it exists, belongs to the employee and is valid for the workspace at the access time.",
    version=1,
    severity="high",
    maturity="stable",
    datasets=("staff.access",),
    state=StateSpec(kind="none", key=("user.name", "organization.id")),
    tags=("policy.staff_access_justified", "attack.collection", "attack.t1213"),
    dedup_period=timedelta(hours=8),
)

PROBLEMS = {
    "unknown": "is not in the ticket table",
    "other_workspace": "is for another workspace",
    "other_employee": "belongs to another employee",
    "expired": "had expired",
    "not_yet_valid": "was not valid yet",
}


class Params(BaseModel):
    """Which staff actions need a justification."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: list[str] = Field(
        default_factory=lambda: ["read", "export", "update", "delete"],
        description="secmon.staff_access.action values that need a valid ticket.",
    )


def unjustified(event: Event) -> bool:
    """True when the context enricher found no valid ticket (None, no ticket table, is not a finding)."""
    context = event.secmon.context
    return context is not None and context.ticket_valid is False


def step(state, event: Event, params: Params):
    """One finding per unjustified access; repeats within the dedup period update one alert."""
    access = event.secmon.staff_access
    if not unjustified(event) or access is None or access.action not in params.actions:
        return None, []
    cited = access.ticket_id
    problem = event.secmon.context.ticket_problem
    why = f"cited ticket {cited} {PROBLEMS.get(problem or '', 'is not valid')}" if cited else "no ticket cited"
    message = f"{access_text(event)} with no valid ticket for that workspace ({why})"
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
    """`<employee>|<workspace>`, only for accesses the enricher found unjustified."""
    if not unjustified(event) or event.user is None or not event.user.name:
        return None
    workspace = event.organization.id if event.organization else None
    return f"{event.user.name}|{workspace or '-'}"


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
