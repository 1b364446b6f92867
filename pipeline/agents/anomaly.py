"""Timers: every worker hot-reloads the anomaly model file; the leader retrains it from Elasticsearch.

The worker never learns a model from the stream in memory (it would differ per process and start
over at every restart): until `anomaly.model` holds a model, the anomaly detectors only build
profiles. A missing file is due at once, so the leader trains one as soon as history allows.

The leader writes a new signed model file (atomically) every `anomaly.retrain_hours`; every
worker notices the change within `anomaly.reload_seconds` and swaps the models in without a
restart. A file that fails verification is refused, counted and logged, and the detectors keep
the last good model. Training runs in a thread with its own Elasticsearch client, so the
worker's event loop (heartbeats, detection) keeps going.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from detectors.anomaly.artifact import ModelError, save
from detectors.anomaly.kinds import stop_learning
from pipeline import metrics
from pipeline.anomaly.models import ModelWatcher

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    """Load the configured model now and add the reload and retrain timers."""
    cfg = rt.settings.anomaly
    stop_learning(rt.detection().detectors)  # profiles yes; scores only with a model trained from history
    if cfg.model is None:
        log.info(
            "anomaly detectors build profiles but score nothing: set anomaly.model to a path and the leader "
            "trains it from Elasticsearch history (or train it with `secmon anomaly train --from-es`)"
        )
        return
    watcher = ModelWatcher(cfg, rt.detection().detectors)
    try:
        if cfg.model.exists():
            watcher.load_now()
            metrics.ANOMALY_MODELS.labels(outcome="loaded").inc()
        else:
            log.info("no anomaly model at %s yet: the anomaly detectors score once one is trained", cfg.model)
    except ModelError as exc:
        metrics.ANOMALY_MODELS.labels(outcome="refused").inc()
        log.error("anomaly model not loaded at start; the detectors score once a good one arrives: %s", exc)

    @rt.app.timer(interval=cfg.reload_seconds)
    async def anomaly_reload() -> None:
        before = watcher.failures
        if watcher.check() is not None:
            metrics.ANOMALY_MODELS.labels(outcome="loaded").inc()
        elif watcher.failures > before:
            metrics.ANOMALY_MODELS.labels(outcome="refused").inc()

    if cfg.retrain_hours <= 0:
        return

    @rt.app.timer(interval=min(cfg.retrain_hours * 3600, 600.0), on_leader=True)
    async def anomaly_retrain() -> None:
        if not _due(cfg.model, cfg.retrain_hours):
            return
        try:
            version = await asyncio.to_thread(_train_and_save, rt)
        except Exception as exc:  # noqa: BLE001 - an exception out of a timer would crash the worker
            metrics.ANOMALY_MODELS.labels(outcome="failed").inc()
            log.error("anomaly retraining failed, the current model stays: %s: %s", type(exc).__name__, exc)
            return
        metrics.ANOMALY_MODELS.labels(outcome="trained").inc()
        log.info("anomaly model retrained from Elasticsearch history: %s (version %s)", cfg.model, version)


def _due(path, hours: float) -> bool:
    """True when the model file is missing or older than `hours`."""
    try:
        return time.time() - path.stat().st_mtime >= hours * 3600
    except OSError:
        return True


def _train_and_save(rt: Runtime) -> str:
    from pipeline.anomaly.training import train_es
    from pipeline.sinks.elasticsearch import client

    settings = rt.settings
    path = settings.anomaly.model
    if path is None:
        raise RuntimeError("anomaly.model is not set: there is nowhere to save a trained model")

    async def go():
        async with client(settings.es) as es:
            return await train_es(es, settings, datetime.now(timezone.utc))

    bundle, skipped = asyncio.run(go())
    for line in skipped:
        log.info("anomaly model not trained for %s", line)
    return save(bundle, path, settings.anomaly.signing_key(create=True))
