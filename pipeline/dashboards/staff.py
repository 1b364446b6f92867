"""Staff access to customer data: who opened which workspace, with or without a ticket, off hours."""

from pipeline.dashboards.model import Col, Dashboard, Lens, Markdown, count, over_time, top
from pipeline.dashboards.views import SEARCHES

ACCESS = 'event.dataset : "staff.access"'
NO_TICKET = f"{ACCESS} and (secmon.context.ticket_valid : false or not secmon.staff_access.ticket_id : *)"
DASHBOARD = Dashboard(
    "staff-access",
    "secmon: Staff access to customer data",
    "Promise: employees open customer "
    "data only with a ticket of that customer, and it is logged. Who opened what, under which "
    "ticket, and when.",
    (
        Lens("Staff accesses", "metric", "events", (count("Accesses"),), kql=ACCESS, w=12, h=7),
        Lens("Without a valid ticket", "metric", "events", (count("Without ticket"),), kql=NO_TICKET, w=12, h=7),
        Lens("Employees", "metric", "events", (Col("unique_count", "user.name", "Employees"),), kql=ACCESS, w=12, h=7),
        Lens(
            "Customer records touched",
            "metric",
            "events",
            (Col("sum", "secmon.staff_access.record_count", "Records"),),
            kql=ACCESS,
            w=12,
            h=7,
        ),
        Lens(
            "Who opened which workspace",
            "table",
            "events",
            (
                count("Accesses"),
                Col("sum", "secmon.staff_access.record_count", "Records"),
                Col("unique_count", "secmon.staff_access.ticket_id", "Tickets"),
            ),
            (top("user.name", 25, "Employee"), top("organization.id", 10, "Workspace")),
            kql=ACCESS,
            w=24,
            h=16,
        ),
        Lens(
            "With and without a valid ticket",
            "bar_stacked",
            "events",
            (count("Accesses"),),
            (over_time(), top("secmon.context.ticket_valid", 2)),
            kql=ACCESS,
            w=24,
            h=16,
        ),
        Lens(
            "Why a ticket did not count",
            "donut",
            "events",
            (count("Accesses"),),
            (top("secmon.context.ticket_problem", 6),),
            kql=NO_TICKET,
            w=16,
        ),
        Lens(
            "Actions on customer data",
            "donut",
            "events",
            (count("Accesses"),),
            (top("secmon.staff_access.action", 8),),
            kql=ACCESS,
            w=16,
        ),
        Lens(
            "Off-hours, bulk and unusual access alerts",
            "bar_stacked",
            "alerts",
            (count("Alerts"),),
            (over_time(), top("rule.id", 5)),
            kql='rule.id : ("staff_access_off_hours" or "staff_access_bulk" or "staff_access_without_justification" '
            'or "anomaly_staff_access")',
            w=16,
        ),
        Lens(
            "Off-hours access by employee",
            "table",
            "alerts",
            (count("Alerts"), Col("sum", "alert.count", "Accesses")),
            (top("user.name", 20, "Employee"), top("organization.id", 10, "Workspace")),
            kql='rule.id : "staff_access_off_hours"',
            w=24,
            h=14,
        ),
        Markdown(
            "How to read this",
            "Off hours are the employee's own working hours and timezone from the user "
            "context table (`secmon.context.user_working_hours`, `secmon.context.user_timezone`); the detector "
            "`staff_access_off_hours` raises the alerts on the left. The table below lists every access without a "
            "valid ticket; the saved search *Hunt: staff access to a workspace* answers a customer's question "
            '"who looked at our data?".',
            w=24,
            h=14,
        ),
        next(s for s in SEARCHES if s.key == "staff-access-without-ticket"),
    ),
)
