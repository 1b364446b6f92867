"""Pipeline: events in/out per source, dead letters by reason, late events, consumer lag.

What Elasticsearch holds is charted; what only Prometheus holds (rates in and out, lateness, consumer
lag) is given as PromQL over the metrics of `pipeline/metrics.py`, the same expressions the alerting
rules in `dashboards/prometheus/` use.
"""

from pipeline.dashboards.model import Col, Dashboard, Lens, Markdown, count, over_time, top

PROMQL = (
    ("Events in per source (/s)", "sum by (stage, source) (rate(secmon_events_in_total[5m]))"),
    ("Events out per source (/s)", "sum by (stage, source) (rate(secmon_events_out_total[5m]))"),
    ("Dead letters by reason (/s)", "sum by (stage, error_code) (rate(secmon_dead_letters_total[5m]))"),
    ("Late events by rule (/s)", "sum by (rule) (rate(secmon_late_events_total[15m]))"),
    ("Consumer lag per topic", "sum by (topic) (secmon_consumer_lag_messages)"),
    ("Rejected Elasticsearch writes (/s)", 'sum by (kind) (rate(secmon_es_writes_total{outcome="rejected"}[5m]))'),
    ("Bulk write p95 (s)", "histogram_quantile(0.95, sum by (le, kind) (rate(secmon_es_bulk_seconds_bucket[5m])))"),
)
PROM_TEXT = (
    "Prometheus holds the stream's own counters (worker `/metrics`, `SECMON_METRICS_PORT`); the alerting "
    "rules are in `dashboards/prometheus/secmon-pipeline.yml`.\n\n| what | PromQL |\n|---|---|\n"
    + "\n".join(f"| {what} | `{expr}` |" for what, expr in PROMQL)
)

DASHBOARD = Dashboard(
    "pipeline",
    "secmon: Pipeline",
    "Is every source arriving, is anything rejected, is the stream keeping up.",
    (
        Lens(
            "Events stored per source",
            "bar_stacked",
            "events",
            (count("Events"),),
            (over_time(), top("secmon.origin.source", 12)),
            w=24,
        ),
        Lens(
            "Sources and their last event",
            "table",
            "events",
            (count("Events"), Col("max", "@timestamp", "Last event"), Col("max", "event.created", "Last read")),
            (top("secmon.origin.source", 20, "Source"), top("event.dataset", 3, "Dataset")),
            w=24,
        ),
        Lens(
            "Dead letters by reason",
            "bar_stacked",
            "deadletter",
            (count("Dead letters"),),
            (over_time(), top("error_code", 10)),
            w=24,
        ),
        Lens(
            "Dead letters by stage and source",
            "table",
            "deadletter",
            (count("Dead letters"), Col("sum", "original_size", "Bytes")),
            (top("stage", 6, "Stage"), top("origin.source", 15, "Source"), top("error_code", 10, "Reason")),
            w=24,
        ),
        Lens(
            "Alerts raised per detector",
            "bar_stacked",
            "alerts",
            (count("Alerts"),),
            (over_time(), top("rule.id", 15)),
            w=24,
        ),
        Lens(
            "Notification delivery outcomes",
            "bar_stacked",
            "notifications",
            (count("Attempts"),),
            (over_time(), top("outcome", 6)),
            w=24,
        ),
        Lens(
            "Lifecycle jobs",
            "table",
            "audit",
            (count("Runs"), Col("max", "@timestamp", "Last")),
            (top("action", 10, "Job"), top("outcome", 4, "Outcome")),
            w=24,
        ),
        Markdown("From Prometheus: rates, lateness, consumer lag", PROM_TEXT, w=24, h=12),
    ),
)
