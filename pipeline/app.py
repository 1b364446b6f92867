"""The Faust application: built from settings, with one thin agent per stage.

raw topics --normalize--> events --index_events--> Elasticsearch (secmon-events-<dataset>-<day>),
                                    then --route--> detect (bundles per partition) --detect--> alerts
alerts --index_alerts--> Elasticsearch (secmon-alerts-<day>)
purge --forget--> detect (every partition): a purged workspace's state is deleted where it lives
leader timer: retention, nightly backup + prune, restore tests (lifecycle.schedule), anomaly retraining.
every worker: hot reload of the anomaly model file.
bad input anywhere --> deadletter topic (with the reason), counted.
"""

from __future__ import annotations

import logging

import faust

from pipeline import flow_control, metrics, worker_stop
from pipeline.check import Checked, check_settings
from pipeline.enrichers.registry import default_enrichers
from pipeline.heap import tune_gc
from pipeline.kafka import consumer
from pipeline.kafka.config import faust_broker_kwargs
from pipeline.kafka.topics import TopicNames
from pipeline.runtime import Runtime
from pipeline.settings import SecmonSettings
from schemas.errors import ConfigError

log = logging.getLogger(__name__)


def create_app(checked: Checked) -> Runtime:
    """The Faust app with every agent registered, built from the checked configuration; nothing
    connects until the worker starts."""
    settings = checked.settings
    app = worker_stop.WorkerApp(  # a stop or rebalance waits for the agents' batches, bounded
        settings.app_id,
        **faust_broker_kwargs(settings.kafka),
        store="memory://",  # tables recover from their changelog topics on start
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=2.0,
        producer_acks=-1,
        # fewer, larger produce requests (a sign-in makes ~14 messages); each awaited send waits
        # up to the linger, so keep it short
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        stream_buffer_maxsize=4096,
        table_cleanup_interval=60.0,
        broker_session_timeout=settings.kafka.session_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.kafka.session_timeout_seconds / 10),
    )
    flow_control.install(app)  # before any agent: Faust's own drops fetched events after a restart
    worker_stop.install(app)  # the same, and events it drops on a stop or revocation are not waited for
    consumer.install(app)  # Faust's skips what it dropped of a never-committed partition (issue 19)
    names = TopicNames(settings.kafka.topic_prefix)
    runtime = Runtime(
        settings=settings,
        app=app,
        names=names,
        enrichers=default_enrichers(settings),
        parse_options=settings.parse.options(),
        detectors=checked.detectors,
        routes=checked.routes,
    )
    runtime.topics = _declare_topics(app, names)
    from pipeline.agents import anomaly, deliver, detect, forget, index, lifecycle, normalize, retrohunt
    from pipeline.agents import context as context_agent

    context_agent.register(runtime)  # first: it completes runtime.enrichers and reads context before agents start
    normalize.register(runtime)
    index.register(runtime)
    detect.register(runtime)
    anomaly.register(runtime)  # after detect: it installs model files into the engine's anomaly detectors
    deliver.register(runtime)
    retrohunt.register(runtime)
    forget.register(runtime)
    lifecycle.register(runtime)
    _register_lag_timer(runtime)
    return runtime


def _declare_topics(app: faust.App, names: TopicNames) -> dict[str, faust.TopicT]:
    from pipeline.normalizers.registry import NORMALIZERS

    raw = [names.raw(s) for s in sorted(NORMALIZERS)]
    return {
        "raw": app.topic(*raw, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        "events": app.topic(
            names.events, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
        "detect": app.topic(
            names.detect, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
        "alerts": app.topic(
            names.alerts, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
        "deadletter": app.topic(
            names.deadletter, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
        "history": app.topic(
            names.history, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
        "purge": app.topic(names.purge, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
    }


def _register_lag_timer(runtime: Runtime) -> None:
    app = runtime.app

    @app.timer(interval=5.0)
    async def consumer_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = await consumer.position(tp)
            if highwater is not None and position is not None:
                metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, highwater - position)
                )


def run_worker(settings: SecmonSettings) -> int:
    """Run the worker until stopped (SIGTERM/SIGINT): check the whole configuration first (as
    `secmon check` does: every problem at once), then create topics and templates."""
    import asyncio

    from faust.worker import Worker

    from pipeline.kafka.topics import ensure_topics
    from pipeline.sinks.elasticsearch import client, install_templates

    report = check_settings(settings)
    for problem in report.problems:
        (log.error if problem.stops else log.warning)("configuration: %s", problem)
    if report.checked is None:
        raise ConfigError(report.render() + "\nfix these (see `secmon check`) and start the worker again")
    ensure_topics(settings)

    async def templates() -> None:
        async with client(settings.es) as es:
            await install_templates(es, settings.es.index_prefix)

    asyncio.run(templates())
    asyncio.set_event_loop(asyncio.new_event_loop())  # asyncio.run left none; Faust wants one
    metrics.serve(settings.metrics_port, settings.metrics_host)
    runtime = create_app(report.checked)
    worker = Worker(runtime.app, loglevel=settings.log_level, quiet=True, override_logging=False)
    tune_gc()
    worker.execute_from_commandline()
    return 0
