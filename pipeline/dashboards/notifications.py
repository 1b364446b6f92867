"""Alerts & notifications: what was sent where, retries, silenced and suppressed findings."""

from pipeline.dashboards.model import Col, Dashboard, Lens, count, over_time, top

DASHBOARD = Dashboard("notifications", "secmon: Alerts & notifications", "Every alert and what became of it: "
                      "delivered to which receiver, retried, failed, silenced or suppressed.", (
    Lens("Delivered", "metric", "notifications", (count("Delivered"),), kql='outcome : "delivered"', w=12, h=7),
    Lens("Retries", "metric", "notifications", (count("Retries"),), kql='outcome : "retry"', w=12, h=7),
    Lens("Failed or dead-lettered", "metric", "notifications", (count("Failed"),),
         kql='outcome : ("failed" or "dead_letter")', w=12, h=7),
    Lens("Silenced or suppressed", "metric", "notifications", (count("Muted"),),
         kql='kind : ("silenced" or "suppressed")', w=12, h=7),
    Lens("Notifications over time by outcome", "bar_stacked", "notifications", (count("Notifications"),),
         (over_time(), top("outcome", 6)), w=24),
    Lens("What was sent where", "table", "notifications",
         (count("Notifications"), Col("unique_count", "group_key", "Alert groups")),
         (top("receiver", 20, "Receiver"), top("receiver_kind", 3, "Kind"), top("outcome", 6, "Outcome")), w=24),
    Lens("Retries by receiver and HTTP status", "bar_stacked", "notifications", (count("Retries"),),
         (top("receiver", 10), top("status_code", 6)), kql='outcome : "retry"', w=24),
    Lens("Delivery latency by receiver", "line", "notifications",
         (Col("average", "latency_ms", "Average ms"), Col("max", "latency_ms", "Slowest ms")),
         (over_time(),), kql='kind : "attempt"', w=24),
    Lens("Silenced alerts", "table", "notifications", (count("Muted"),),
         (top("silence_id", 15, "Silence"), top("rule_ids", 10, "Rule")), kql='kind : "silenced"', w=24),
    Lens("Suppressed (experimental rules kept from pagers)", "table", "notifications", (count("Suppressed"),),
         (top("rule_ids", 15, "Rule"), top("receiver", 5, "Receiver")), kql='kind : "suppressed"', w=24),
    Lens("Alerts by rule and status", "bar_stacked", "alerts", (count("Alerts"),),
         (top("rule.id", 20), top("alert.status", 2)), w=24),
    Lens("Alerts by maturity and ruleset", "donut", "alerts", (count("Alerts"),),
         (top("rule.maturity", 3), top("rule.ruleset", 2)), w=24),
))
