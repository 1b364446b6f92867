"""What the detection engine's hot path needs of one enabled detector, read off it once at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from detectors.base import Detector, StepFn, key_function


@dataclass(frozen=True, slots=True)
class Route:
    """What the engine's hot path needs of one enabled detector, read off it once."""

    det: Detector
    params: BaseModel
    id: str
    key: Callable[..., str | None]  # the entity key function: key(event), or key(event, params)
    key_with_params: bool
    step: StepFn
    timed: bool
    keep_with_state: float | None  # Engine._keep
    keep_alert_only: float


def route_of(det: Detector, params: BaseModel, keep: tuple[float | None, float]) -> Route:
    """The detector's route: its entity key function (bound to its parameters when it needs them)."""
    key: Callable[..., str | None] = det.key_with or det.key or key_function(det.meta.state.key)
    with_params = det.key_with is not None
    return Route(det, params, det.meta.id, key, with_params, det.step, det.tick is not None, *keep)
