"""Sign-ins: volume and failure rate, where from (map), devices, MFA share, new devices/countries, anomalies."""

from pipeline.dashboards.model import Col, Dashboard, GeoMap, Lens, count, over_time, top

SIGNIN = 'event.category : "authentication"'
NEW = (
    'rule.id : ("signin_new_device" or "signin_new_country" or "signin_new_asn" or "signin_impossible_travel" '
    'or "ssh_new_source" or "ssh_impossible_travel")'
)
GUESSING = (
    'rule.id : ("signin_bruteforce_ip" or "signin_bruteforce_user" or "signin_password_spray" '
    'or "signin_success_after_failures" or "ssh_user_enumeration")'
)
DASHBOARD = Dashboard(
    "signins",
    "secmon: Sign-ins",
    "Every sign-in to the app and to servers: volume, failures, "
    "where from, which devices, how many with MFA, what was new or unusual.",
    (
        Lens("Sign-ins", "metric", "events", (count("Sign-ins"),), kql=SIGNIN, w=12, h=7),
        Lens(
            "Failed sign-ins",
            "metric",
            "events",
            (count("Failed"),),
            kql=f'{SIGNIN} and event.outcome : "failure"',
            w=12,
            h=7,
        ),
        Lens(
            "Users signing in", "metric", "events", (Col("unique_count", "user.name", "Users"),), kql=SIGNIN, w=12, h=7
        ),
        Lens(
            "Source addresses",
            "metric",
            "events",
            (Col("unique_count", "source.ip", "Addresses"),),
            kql=SIGNIN,
            w=12,
            h=7,
        ),
        Lens(
            "Sign-ins over time by outcome",
            "bar_stacked",
            "events",
            (count("Sign-ins"),),
            (over_time(), top("event.outcome", 3)),
            kql=SIGNIN,
            w=24,
        ),
        Lens(
            "Failure rate over time",
            "area_percentage",
            "events",
            (count("Sign-ins"),),
            (over_time(), top("event.outcome", 3)),
            kql=SIGNIN,
            w=24,
        ),
        GeoMap("Where sign-ins come from", "events", "source.geo.location", kql=SIGNIN, w=32, h=18),
        Lens(
            "Source countries",
            "donut",
            "events",
            (count("Sign-ins"),),
            (top("source.geo.country_iso_code", 10),),
            kql=SIGNIN,
            w=16,
            h=18,
        ),
        Lens("Devices", "donut", "events", (count("Sign-ins"),), (top("secmon.device.type", 6),), kql=SIGNIN, w=16),
        Lens(
            "MFA share of successful sign-ins",
            "donut",
            "events",
            (count("Sign-ins"),),
            (top("secmon.auth.mfa", 2),),
            kql=f'{SIGNIN} and event.outcome : "success"',
            w=16,
        ),
        Lens(
            "Authentication methods",
            "donut",
            "events",
            (count("Sign-ins"),),
            (top("secmon.auth.method", 8),),
            kql=SIGNIN,
            w=16,
        ),
        Lens(
            "Failed sign-ins by source address",
            "table",
            "events",
            (count("Failures"), Col("unique_count", "user.name", "Users tried")),
            (top("source.ip", 15, "Source IP"), top("source.as.organization.name", 3, "AS owner")),
            kql=f'{SIGNIN} and event.outcome : "failure"',
            w=24,
            h=14,
        ),
        Lens(
            "New devices, countries and networks",
            "table",
            "alerts",
            (count("Alerts"), Col("max", "alert.last_seen", "Last seen")),
            (top("user.name", 20, "User"), top("rule.id", 6, "What was new")),
            kql=NEW,
            w=24,
            h=14,
        ),
        Lens(
            "Password guessing: brute force, spray, success after failures",
            "table",
            "alerts",
            (count("Alerts"), Col("max", "alert.last_seen", "Last seen")),
            (top("source.ip", 20, "Source"), top("rule.id", 6, "Rule")),
            kql=GUESSING,
            w=48,
            h=12,
        ),
        Lens(
            "Sign-in anomaly scores",
            "line",
            "alerts",
            (
                Col("max", "secmon.anomaly.score", "Highest score"),
                Col("average", "secmon.anomaly.threshold", "Threshold"),
            ),
            (over_time(),),
            kql='rule.id : "anomaly_signin"',
            w=24,
        ),
        Lens(
            "Most unusual sign-ins",
            "table",
            "alerts",
            (Col("max", "secmon.anomaly.score", "Highest score"), count("Alerts")),
            (top("user.name", 15, "User"), top("secmon.anomaly.features.name", 3, "Top feature")),
            kql='rule.id : "anomaly_signin"',
            w=24,
        ),
    ),
)
