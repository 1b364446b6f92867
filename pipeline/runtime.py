"""What the Faust agents share, below them all: the Runtime and the engine built from settings.

`pipeline.app` builds a Runtime and hands it to each agent's `register`; the agents import this
module, never `pipeline.app`, so the app sits on top and nothing imports it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import faust
from pydantic import BaseModel

from detectors.base import Detector
from detectors.engine import Engine, EngineHooks
from detectors.state import StateStore
from pipeline import metrics
from pipeline.delivery.routing import RoutingTree
from pipeline.enrichers.base import Enricher
from pipeline.kafka.topics import TopicNames
from pipeline.normalizers.base import ParseOptions
from pipeline.settings import SecmonSettings
from schemas.event import Event

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the agents share: settings, topic names, the core's parts."""

    settings: SecmonSettings
    app: faust.App
    names: TopicNames
    enrichers: list[Enricher]
    parse_options: ParseOptions
    detectors: list[tuple[Detector, BaseModel]]  # validated by `secmon check`'s check_settings
    routes: RoutingTree | None  # None: delivery off
    engine: Engine | None = None
    topics: dict[str, faust.TopicT] = field(default_factory=dict)

    def detection(self) -> Engine:
        """The detection engine, once the detect agent built it over its table."""
        if self.engine is None:
            raise RuntimeError("the detect agent must be registered before the agents that use its engine")
        return self.engine


def build_engine(runtime: Runtime, store: StateStore) -> Engine:
    """The detection engine over `store`, with metrics hooks, running the validated detectors."""
    settings = runtime.settings
    hooks = EngineHooks(
        on_late=lambda det: metrics.LATE_EVENTS.labels(rule=det).inc(),
        on_alert=lambda alert, new: metrics.ALERTS.labels(
            rule=alert.rule.id, severity=alert.alert.severity, change="new" if new else "update"
        ).inc(),
    )

    def on_error(det_id: str, exc: Exception, event: Event | None) -> None:
        metrics.DETECTOR_ERRORS.labels(rule=det_id).inc()
        log.error("detector %s failed on %s: %r", det_id, event.event.id if event else "a timer tick", exc)

    hooks.on_error = on_error
    return Engine(
        detectors=runtime.detectors,
        store=store,
        hooks=hooks,
        lateness=timedelta(seconds=settings.detection.lateness_seconds),
    )
