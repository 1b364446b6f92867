"""Infrastructure & compliance: one panel per policy promise (firewall, TLS, vulns, laptops, backups, deletions)."""

from pipeline.dashboards.model import Col, Dashboard, Lens, count, over_time, top


def rules(*ids: str) -> str:
    """KQL for alerts of these detectors."""
    return "rule.id : (" + " or ".join(f'"{i}"' for i in ids) + ")"


DASHBOARD = Dashboard("compliance", "secmon: Infrastructure & compliance", "One panel per promise of the security "
                      "policy: each shows the evidence or the breaches of that promise.", (
    Lens("Promise: no security group open to the world", "table", "alerts",
         (count("Alerts"), Col("max", "alert.last_seen", "Last seen")),
         (top("secmon.resource.id", 20, "Security group"), top("cloud.account.id", 5, "Account")),
         kql=rules("cloud_sg_open_to_world"), w=24, h=12),
    Lens("Security-group changes by rule CIDR", "bar_stacked", "events", (count("Changes"),),
         (over_time(), top("secmon.firewall_rules.cidr", 8)),
         kql='event.dataset : "aws.cloudtrail" and secmon.firewall_rules.direction : *', w=24, h=12),
    Lens("Attacks on the perimeter: web attacks and port scans", "table", "alerts",
         (count("Alerts"), Col("max", "alert.last_seen", "Last seen")),
         (top("source.ip", 20, "Source"), top("rule.id", 4, "Rule")),
         kql=rules("web_sql_injection", "web_path_traversal", "web_scanner", "network_port_scan"), w=48, h=12),
    Lens("Promise: audit logging stays on", "table", "alerts", (count("Alerts"),),
         (top("secmon.resource.id", 15, "Trail, detector or bucket"), top("rule.id", 3, "Rule")),
         kql=rules("cloud_logging_tampering", "cloud_trail_log_expiry", "root_account_usage",
                   "cloud_console_login_without_mfa"), w=24, h=12),
    Lens("Promise: servers only with a second factor", "table", "alerts", (count("Alerts"),),
         (top("host.name", 15, "Server"), top("user.name", 5, "User")),
         kql=rules("ssh_login_without_2fa", "ssh_root_login"), w=24, h=12),
    Lens("Promise: strong TLS only (protocol versions seen)", "bar_stacked", "events", (count("Connections"),),
         (over_time(), top("tls.version", 6)), kql='event.dataset : "zeek.ssl"', w=24, h=12),
    Lens("Weak TLS alerts", "table", "alerts", (count("Alerts"),),
         (top("destination.ip", 15, "Server"), top("rule.id", 3, "Weakness")),
         kql=rules("tls_weak_protocol", "tls_weak_cipher", "tls_weak_certificate"), w=24, h=12),
    Lens("Promise: vulnerabilities fixed within the SLA", "bar_stacked", "events",
         (Col("unique_count", "secmon.finding.id", "Open findings"),),
         (top("vulnerability.severity", 5), top("secmon.finding.status", 3)),
         kql='event.dataset : "vuln.finding"', w=24, h=12),
    Lens("Vulnerability SLA breaches", "table", "alerts", (count("Alerts"), Col("max", "alert.first_seen", "Since")),
         (top("secmon.resource.id", 20, "Scan target"), top("alert.severity", 4, "Severity")),
         kql=rules("vuln_sla_breach"), w=24, h=12),
    Lens("Promise: laptops encrypted and locked", "donut", "events", (Col("unique_count", "host.id", "Laptops"),),
         (top("secmon.posture.disk_encrypted", 2),), kql='event.dataset : "laptop.posture"', w=16, h=12),
    Lens("Non-compliant or silent laptops", "table", "alerts", (count("Alerts"),),
         (top("host.name", 20, "Laptop"), top("rule.id", 2, "Problem")),
         kql=rules("laptop_noncompliant", "laptop_posture_missing"), w=32, h=12),
    Lens("Promise: a backup every day", "bar_stacked", "events", (count("Backup events"),),
         (over_time(), top("secmon.control.status", 4)),
         kql='event.dataset : "control.events" and secmon.control.kind : "backup"', w=24, h=12),
    Lens("Promise: restores tested at least every 90 days", "table", "audit",
         (count("Runs"), Col("max", "@timestamp", "Last run")), (top("outcome", 4, "Outcome"),),
         kql='action : "restore_test"', w=24, h=12),
    Lens("Backup and restore-test alerts", "table", "alerts", (count("Alerts"), Col("max", "alert.last_seen", "Last")),
         (top("rule.id", 5, "Rule"), top("secmon.resource.id", 10, "Job")),
         kql=rules("backup_failed", "backup_missing", "restore_test_overdue", "backup_purge_overdue"), w=24, h=12),
    Lens("Promise: deletions done within 24 h (receipts)", "table", "receipts",
         (Col("max", "requested_at", "Requested"), Col("max", "completed_at", "Completed"),
          Col("sum", "documents", "Documents deleted"), Col("max", "remaining", "Remaining")),
         (top("workspace", 25, "Workspace"), top("status", 3, "Status")), w=24, h=14),
    Lens("Deletion clocks breached", "table", "alerts", (count("Alerts"), Col("max", "alert.first_seen", "Since")),
         (top("organization.id", 20, "Workspace"), top("rule.id", 2, "Rule")),
         kql=rules("deletion_sla_breach", "backup_purge_overdue"), w=24, h=14),
    Lens("Legal holds", "table", "holds", (count("Changes"), Col("max", "opened_at", "Opened")),
         (top("hold_id", 20, "Hold"), top("status", 2, "Status")), w=24, h=12),
    Lens("Lifecycle actions", "bar_stacked", "audit", (count("Actions"),), (top("action", 10), top("outcome", 4)),
         w=24, h=12),
), time_from="now-90d")
