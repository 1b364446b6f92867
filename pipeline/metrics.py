"""Every Prometheus metric secmon exports, defined in one place.

Names follow `secmon_<noun>_<unit>[_total]`. Label values come from bounded sets only (stage
names, source and detector ids from the registries, error codes, outcomes), never from input.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS_IN = Counter("secmon_events_in_total", "Records or events a stage received.", ["stage", "source"])
EVENTS_OUT = Counter("secmon_events_out_total", "Events a stage passed on.", ["stage", "source"])
DEAD_LETTERS = Counter("secmon_dead_letters_total", "Records sent to the dead letter.", ["stage", "error_code"])
ES_WRITES = Counter("secmon_es_writes_total", "Elasticsearch document writes by outcome.", ["kind", "outcome"])
ES_BULK_SECONDS = Histogram(
    "secmon_es_bulk_seconds",
    "Duration of one bulk write.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ALERTS = Counter("secmon_alerts_total", "Alerts created or updated.", ["rule", "severity", "change"])
DETECTOR_ERRORS = Counter("secmon_detector_errors_total", "Exceptions raised by a detector.", ["rule"])
LATE_EVENTS = Counter("secmon_late_events_total", "Events older than the allowed lateness.", ["rule"])
CONSUMER_LAG = Gauge(
    "secmon_consumer_lag_messages", "Messages behind the end of a topic partition.", ["topic", "partition"]
)
SHIPPED = Counter("secmon_shipper_records_total", "Records the shipper handed to Kafka.", ["source", "outcome"])
SHIPPER_POSITION_SAVES_FAILED = Counter(
    "secmon_shipper_position_saves_failed_total",
    "Shipping positions not saved because the state dir was full or read-only (tried again after the next batch).",
)
# receiver: names from the validated delivery config (a bounded set); outcome: delivered, failed
# (permanent 4xx), dead_letter (budget spent), silenced, suppressed (experimental -> pager)
NOTIFICATIONS = Counter(
    "secmon_notifications_total", "Notifications by receiver and final outcome.", ["receiver", "outcome"]
)
NOTIFICATION_RETRIES = Counter(
    "secmon_notification_retries_total", "Notification attempts that will be retried.", ["receiver"]
)
NOTIFICATION_SECONDS = Histogram(
    "secmon_notification_seconds",
    "Duration of one notification attempt.",
    ["receiver"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# output: the topic kind an agent waited on (alerts, detect, deadletter): see pipeline.kafka.send
KAFKA_SEND_RETRIES = Counter(
    "secmon_kafka_send_retries_total", "Kafka sends retried after a retriable failure (broker away).", ["output"]
)
# logger: the top-level client logger (pipeline.logthrottle.THROTTLED), never the message
LOG_LINES_DROPPED = Counter(
    "secmon_log_lines_dropped_total", "Repeated client warnings not written (one per 10 s is).", ["logger"]
)
REPLAYS_SKIPPED = Counter(
    "secmon_detect_replays_skipped_total",
    "Detector steps skipped: the state entry already held the replayed detect message (after a crash).",
)
STATE_FORGOTTEN = Counter("secmon_state_forgotten_total", "Detector state entries deleted by a workspace purge.")
LIFECYCLE_JOBS = Counter(
    "secmon_lifecycle_jobs_total", "Scheduled lifecycle jobs run by the worker.", ["job", "outcome"]
)
# outcome: loaded, refused (verification failed: the last good model stays), trained, failed
ANOMALY_MODELS = Counter("secmon_anomaly_models_total", "Anomaly model loads and trainings by outcome.", ["outcome"])
# Every broad `except` the worker survives that no metric above already counts. where: a fixed
# name per handler (delivery_batch, delivery_template, silences_reload, threat_intel_reload,
# context_follow, deadletter_send), never exception text.
ERRORS = Counter("secmon_errors_total", "Unexpected exceptions caught and survived, by handler.", ["where"])


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on host:port (0 = off)."""
    if port:
        start_http_server(port, addr=host)
