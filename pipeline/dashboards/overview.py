"""Overview: alerts over time by severity and rule, open alerts, top entities, pipeline health."""

from pipeline.dashboards.model import Col, Dashboard, Lens, count, over_time, top

OPEN = 'alert.status : "open"'
DASHBOARD = Dashboard("overview", "secmon: Overview", "What fired, what is still open, about whom; is the pipeline "
                      "keeping up.", (
    Lens("Open alerts", "metric", "alerts", (count("Open alerts"),), kql=OPEN, w=12, h=7),
    Lens("Open high and critical alerts", "metric", "alerts", (count("Open high/critical"),),
         kql=f'{OPEN} and alert.severity : ("high" or "critical")', w=12, h=7),
    Lens("Events stored", "metric", "events", (count("Events"),), w=12, h=7),
    Lens("Dead letters", "metric", "deadletter", (count("Dead letters"),), w=12, h=7),
    Lens("Alerts over time by severity", "bar_stacked", "alerts", (count("Alerts"),),
         (over_time(), top("alert.severity", 4)), w=24),
    Lens("Alerts over time by rule", "bar_stacked", "alerts", (count("Alerts"),),
         (over_time(), top("rule.id", 10)), w=24),
    Lens("Open alerts by rule and severity", "table", "alerts",
         (count("Alerts"), Col("sum", "alert.count", "Findings"), Col("max", "alert.last_seen", "Last seen")),
         (top("rule.id", 20, "Rule"), top("alert.severity", 4, "Severity")), kql=OPEN, w=24, h=14),
    Lens("Top users in alerts", "table", "alerts", (count("Alerts"), Col("unique_count", "rule.id", "Rules")),
         (top("user.name", 10, "User"),), w=12, h=14),
    Lens("Top source addresses in alerts", "table", "alerts", (count("Alerts"), Col("unique_count", "rule.id", "Rules")),
         (top("source.ip", 10, "Source IP"),), w=12, h=14),
    Lens("Top hosts and workspaces in alerts", "table", "alerts", (count("Alerts"),),
         (top("host.name", 10, "Host"), top("organization.id", 5, "Workspace")), w=24, h=12),
    Lens("Events stored per dataset", "bar_stacked", "events", (count("Events"),),
         (over_time(), top("event.dataset", 12)), w=24, h=12),
    Lens("Dead letters by reason", "bar_stacked", "deadletter", (count("Dead letters"),),
         (over_time(), top("error_code", 10)), w=24, h=12),
    Lens("Notification outcomes", "bar_stacked", "notifications", (count("Notifications"),),
         (over_time(), top("outcome", 6)), w=24, h=12),
))
