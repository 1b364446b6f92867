"""The data views (one per index family, `@timestamp` as time field) and the saved hunts."""

from __future__ import annotations

from pipeline.dashboards.model import DataView, Search

VIEWS = (
    DataView("events", "events-*", "events (every dataset)"),
    DataView("alerts", "alerts-*", "alerts"),
    DataView("notifications", "notifications-*", "notifications (delivery history)"),
    DataView("deadletter", "deadletter-*", "dead letters"),
    DataView("audit", "audit-*", "lifecycle audit records"),
    DataView("receipts", "receipts-*", "deletion receipts"),
    DataView("holds", "holds-*", "legal holds"),
)
SIGNIN_COLUMNS = (
    "user.name",
    "event.outcome",
    "source.ip",
    "source.geo.country_iso_code",
    "source.as.organization.name",
    "secmon.auth.method",
    "secmon.auth.mfa",
    "secmon.device.type",
    "user_agent.name",
    "organization.id",
)
SEARCHES = (
    Search(
        "signins-of-a-user",
        "Hunt: sign-ins of a user",
        "events",
        'event.category : "authentication" and user.name : "NAME"',
        SIGNIN_COLUMNS,
        "Every sign-in (app and SSH) of one user: replace NAME in the query bar.",
    ),
    Search(
        "everything-from-an-ip",
        "Hunt: everything from an IP",
        "events",
        'related.ip : "192.0.2.1"',
        (
            "event.dataset",
            "event.action",
            "event.outcome",
            "user.name",
            "source.ip",
            "destination.ip",
            "url.path",
            "message",
        ),
        "Every event of any dataset that names the address (related.ip): replace 192.0.2.1.",
    ),
    Search(
        "alerts-from-an-ip",
        "Hunt: alerts about an IP",
        "alerts",
        'source.ip : "192.0.2.1"',
        ("rule.id", "alert.severity", "alert.status", "alert.count", "user.name", "message"),
        "Alerts whose entity is the address: replace 192.0.2.1.",
    ),
    Search(
        "staff-access-to-a-workspace",
        "Hunt: staff access to a workspace",
        "events",
        'event.dataset : "staff.access" and organization.id : "WORKSPACE"',
        (
            "user.name",
            "organization.id",
            "secmon.staff_access.resource",
            "secmon.staff_access.action",
            "secmon.staff_access.record_count",
            "secmon.staff_access.ticket_id",
            "secmon.context.ticket_valid",
            "secmon.context.ticket_problem",
        ),
        "Which employees opened one customer's data, and under which ticket: replace WORKSPACE.",
    ),
    Search(
        "staff-access-without-ticket",
        "Staff access without a valid ticket",
        "events",
        'event.dataset : "staff.access" and (secmon.context.ticket_valid : false or '
        "not secmon.staff_access.ticket_id : *)",
        (
            "user.name",
            "organization.id",
            "secmon.staff_access.resource",
            "secmon.staff_access.action",
            "secmon.staff_access.ticket_id",
            "secmon.context.ticket_problem",
        ),
        "Access to customer data with no ticket, or a ticket that does not cover it.",
    ),
    Search(
        "open-alerts",
        "Open alerts",
        "alerts",
        'alert.status : "open"',
        ("alert.severity", "rule.id", "alert.count", "user.name", "source.ip", "host.name", "message"),
        "Every alert not resolved yet, newest first.",
    ),
    Search(
        "dead-letters",
        "Dead letters",
        "deadletter",
        "",
        ("stage", "error_code", "origin.source", "origin.file", "reason"),
        "Records secmon could not process, with the reason and where they were read.",
    ),
)
