"""Shared logic of the sign-in brute-force detectors: N failures in a window per entity."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors import windows
from detectors.base import Entity, Finding, State
from schemas.event import Event


class FailureParams(BaseModel):
    """Threshold and window of a failure-counting detector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(10, ge=2, description="Failures that make a burst.")
    window_seconds: int = Field(600, ge=1, description="Event-time window in seconds.")


def count_failures(state: State | None, event: Event, params: FailureParams, entity: Entity, what: str):
    """Count failed sign-ins in the window; a burst of `threshold` is one finding, then restart."""
    if event.event.outcome != "failure":
        return state, []
    state = windows.add(state, event.timestamp.timestamp(), event.event.id, params.window_seconds)
    ids = windows.items(state)
    if len(ids) < params.threshold:
        return state, []
    finding = Finding(
        message=f"{len(ids)} failed sign-ins {what} within {params.window_seconds}s",
        entity=entity,
        timestamp=event.timestamp,
        event_ids=tuple(ids),
        datasets=(event.event.dataset,),
    )
    return None, [finding]
