"""Every behaviour secmon models, and how a runtime installs model files into its detectors' slots."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from detectors.anomaly.artifact import Bundle
from detectors.anomaly.behaviour import Behaviour
from detectors.anomaly.detector import AnomalyParams
from detectors.anomaly.server import SERVER
from detectors.anomaly.signin import SIGNIN
from detectors.anomaly.slot import ModelSlot
from detectors.anomaly.staff import STAFF
from detectors.base import Detector

BEHAVIOURS: dict[str, Behaviour] = {b.detector: b for b in (SIGNIN, STAFF, SERVER)}


def slots(configured: Sequence[tuple[Detector, BaseModel]]) -> dict[str, ModelSlot]:
    """The model slot of every enabled anomaly detector, by behaviour kind."""
    return {
        BEHAVIOURS[det.meta.id].kind: params.slot(BEHAVIOURS[det.meta.id])
        for det, params in configured
        if det.meta.id in BEHAVIOURS and isinstance(params, AnomalyParams)
    }


def stop_learning(configured: Sequence[tuple[Detector, BaseModel]]) -> None:
    """Anomaly detectors score only with model files from now on (profiles are still learned)."""
    for slot in slots(configured).values():
        slot.stop_learning()


def install(configured: Sequence[tuple[Detector, BaseModel]], live: Bundle, shadow: Bundle | None = None) -> list[str]:
    """Score with the models of `live` (and `shadow`) from now on; returns the kinds installed.

    A kind the file has no model for keeps learning from the stream."""
    installed = []
    for kind, slot in slots(configured).items():
        if kind in live:
            slot.install(live[kind], (shadow or {}).get(kind))
            installed.append(kind)
    return installed
