"""`secmon controls PATH... [--until now]`: every policy control with its live status.

The embedded engine runs over the files (as `secmon run` does, timed detectors on event time,
then once more at `--until`), and each control is read from the detectors that evidence it:

    failing   an alert of one of its detectors is open (overdue: only alerts saying something is late)
    ok        no open alert, and the input held events that the control is about
    no data   nothing in the input says anything about it (or none of its detectors is enabled)

The table of controls is data (CONTROLS): which detectors evidence each one, and which events
count as evidence. A control's id is also the `policy.<id>` tag its detectors carry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import field_value
from pipeline.cliargs import instant
from pipeline.settings import SecmonSettings
from schemas.alert import Alert
from schemas.event import Event

Status = Literal["ok", "failing", "overdue", "no data"]


class Evidence(BaseModel):
    """Events that show a control was exercised: a dataset (`*`: any), some actions, a field present."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="event.dataset, or * for any event.")
    actions: tuple[str, ...] = Field((), description="event.action values that count (empty: all).")
    needs: str | None = Field(None, description="Dotted field the event must have, e.g. tls.version.")

    def matches(self, event: Event) -> bool:
        """True when the event is evidence of this kind."""
        return (
            (self.dataset == "*" or event.event.dataset == self.dataset)
            and (not self.actions or event.event.action in self.actions)
            and (self.needs is None or field_value(event, self.needs) is not None)
        )


class Control(BaseModel):
    """One promise of the security policy and the detectors that watch it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]+$", description="Stable id; its detectors carry tag policy.<id>.")
    title: str = Field(description="The promise, as the policy states it.")
    detectors: tuple[str, ...] = Field(min_length=1, description="Detector ids whose open alerts break it.")
    late: tuple[str, ...] = Field((), description="Those of them whose alerts mean late, not wrong (overdue).")
    evidence: tuple[Evidence, ...] = Field(min_length=1, description="Events showing it was exercised.")


def _ev(dataset: str, *actions: str, needs: str | None = None) -> Evidence:
    return Evidence(dataset=dataset, actions=actions, needs=needs)


CONTROLS: tuple[Control, ...] = (
    Control(
        id="mfa_required",
        title="MFA on every sign-in (application and AWS console)",
        detectors=("signin_without_mfa", "cloud_console_login_without_mfa"),
        evidence=(_ev("app.signin", needs="secmon.auth.mfa"), _ev("aws.cloudtrail", "ConsoleLogin")),
    ),
    Control(
        id="server_2fa",
        title="2FA on every server SSH login",
        detectors=("ssh_login_without_2fa",),
        evidence=(_ev("ssh.auth"),),
    ),
    Control(
        id="staff_access_justified",
        title="Staff access to customer data is justified",
        detectors=(
            "staff_access_without_justification",
            "staff_access_off_hours",
            "staff_access_bulk",
            "anomaly_staff_access",
        ),
        evidence=(_ev("staff.access"),),
    ),
    Control(
        id="backups",
        title="Backups succeed nightly (26 h with grace)",
        detectors=("backup_failed", "backup_missing"),
        late=("backup_missing",),
        evidence=(_ev("control.events", "backup_started", "backup_succeeded", "backup_failed"),),
    ),
    Control(
        id="restore_tests",
        title="A backup restore is tested every 90 days",
        detectors=("restore_test_overdue",),
        late=("restore_test_overdue",),
        evidence=(_ev("control.events", "restore_test_started", "restore_test_succeeded", "restore_test_failed"),),
    ),
    Control(
        id="deletion",
        title="Workspace deletions complete within 24 h",
        detectors=("deletion_sla_breach",),
        late=("deletion_sla_breach",),
        evidence=(_ev("control.events", "deletion_requested", "deletion_completed", "deletion_failed"),),
    ),
    Control(
        id="backup_purge",
        title="Deleted workspaces leave the backups within 14 days (legal holds excepted)",
        detectors=("backup_purge_overdue",),
        late=("backup_purge_overdue",),
        evidence=(_ev("control.events", "deletion_completed"),),
    ),
    Control(
        id="vuln_remediation",
        title="Vulnerabilities fixed in time (critical 7 days, high 30 days)",
        detectors=("vuln_sla_breach",),
        late=("vuln_sla_breach",),
        evidence=(_ev("vuln.finding"),),
    ),
    Control(
        id="laptop_posture",
        title="Laptops encrypted, screen-locked and reporting",
        detectors=("laptop_noncompliant", "laptop_posture_missing"),
        late=("laptop_posture_missing",),
        evidence=(_ev("laptop.posture"),),
    ),
    Control(
        id="open_ports",
        title="No port open to the Internet beyond the allowed ones",
        detectors=("cloud_sg_open_to_world",),
        evidence=(_ev("aws.cloudtrail"),),
    ),
    Control(
        id="tls",
        title="Servers accept only TLS 1.2+ with strong ciphers",
        detectors=("tls_weak_protocol", "tls_weak_cipher", "tls_weak_certificate"),
        evidence=(_ev("web.access", needs="tls.version"), _ev("zeek.ssl"), _ev("zeek.x509")),
    ),
    Control(
        id="audit_logging",
        title="Cloud audit logging and threat detection stay on",
        detectors=("cloud_logging_tampering", "cloud_trail_log_expiry"),
        evidence=(_ev("aws.cloudtrail"),),
    ),
    Control(
        id="log_sources",
        title="Every expected log source keeps sending",
        detectors=("source_silent",),
        late=("source_silent",),
        evidence=(_ev("*"),),
    ),
)


@dataclass
class ControlStatus:
    """A control's status and why."""

    control: Control
    status: Status
    evidence: int = 0
    open_alerts: list[Alert] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # its detectors that are not enabled here

    def detail(self) -> str:
        """One line: the first open alert, or why there is no data."""
        if self.open_alerts:
            first = self.open_alerts[0]
            more = f" (+{len(self.open_alerts) - 1} more)" if len(self.open_alerts) > 1 else ""
            return f"{first.rule.id}: {first.message}{more}"
        if self.unavailable:
            return "not enabled: " + ", ".join(self.unavailable)
        return ""


def evaluate(
    controls: Iterable[Control], alerts: Iterable[Alert], evidence: Counter, enabled: set[str]
) -> list[ControlStatus]:
    """Each control's status from the final alerts, its evidence count and the enabled detectors."""
    open_alerts = sorted((a for a in alerts if a.alert.status == "open"), key=lambda a: a.alert.first_seen)
    statuses = []
    for control in controls:
        watching = [d for d in control.detectors if d in enabled]
        mine = [a for a in open_alerts if a.rule.id in watching]
        if mine:
            status: Status = "overdue" if all(a.rule.id in control.late for a in mine) else "failing"
        elif watching and evidence[control.id]:
            status = "ok"
        else:
            status = "no data"
        statuses.append(
            ControlStatus(
                control, status, evidence[control.id], mine, [d for d in control.detectors if d not in enabled]
            )
        )
    return statuses


@dataclass
class Observation:
    """What a run over the input gave: final alerts, evidence per control, and the enabled detectors."""

    alerts: dict[str, Alert]
    evidence: Counter
    enabled: set[str]
    events: int = 0
    dead_letters: int = 0
    clock: datetime | None = None


def observe(
    paths: Sequence[str],
    settings: SecmonSettings,
    controls: Sequence[Control] = CONTROLS,
    source: str | None = None,
    until: datetime | None = None,
) -> Observation:
    """Run the embedded core over the files, counting each control's evidence on the way."""
    from detectors.clock import EventClock
    from pipeline import embedded
    from pipeline.enrichers.registry import default_enrichers
    from pipeline.process import process_record
    from pipeline.readers import read_records

    engine = embedded.build_engine(settings, embedded.Summary())
    clock = EventClock(engine, every=timedelta(seconds=settings.detection.tick_seconds))
    seen = Observation({}, Counter(), {d.meta.id for d, _ in engine.detectors})
    parse_options, enrichers, limit = (
        settings.parse.options(),
        default_enrichers(settings),
        settings.parse.max_record_bytes,
    )
    for path in paths:
        normalizer = embedded.resolve_source(path, source)
        for record in read_records(path, normalizer, limit):
            result = process_record(record, normalizer, enrichers, parse_options, limit)
            seen.dead_letters += 0 if result.dead_letter is None else 1
            for event in result.events:
                seen.events += 1
                seen.evidence.update(c.id for c in controls if any(e.matches(event) for e in c.evidence))
                for alert in engine.process(event) + clock.observe(event.timestamp):
                    seen.alerts[alert.alert.id] = alert
    for alert in clock.finish(until):
        seen.alerts[alert.alert.id] = alert
    seen.clock = until or clock.latest
    return seen


def render(statuses: Sequence[ControlStatus], seen: Observation) -> str:
    """The table the security team reads."""
    at = seen.clock.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ") if seen.clock else "no events"
    lines = [
        f"secmon controls: {seen.events} events ({seen.dead_letters} records dead-lettered), clock at {at}",
        "",
        f"{'STATUS':<9} {'CONTROL':<24} {'EVENTS':>7}  {'PROMISE / OPEN ALERT'}",
    ]
    for s in statuses:
        lines.append(f"{s.status:<9} {s.control.id:<24} {s.evidence:>7}  {s.control.title}")
        if s.detail():
            lines.append(f"{'':<43}{s.detail()[:300]}")
    counts = Counter(s.status for s in statuses)
    lines += ["", ", ".join(f"{counts[k]} {k}" for k in ("ok", "failing", "overdue", "no data"))]
    return "\n".join(lines)


def as_json(status: ControlStatus) -> str:
    """One control as a JSON line (for scripts and dashboards)."""
    return json.dumps(
        {
            "control": status.control.id,
            "title": status.control.title,
            "status": status.status,
            "evidence": status.evidence,
            "open_alerts": [a.alert.id for a in status.open_alerts],
            "detail": status.detail(),
            "not_enabled": status.unavailable,
        }
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `controls` command to secmon's parser."""
    cmd = sub.add_parser(
        "controls",
        help="every policy control with its status (ok / failing / overdue / no data), "
        "computed by running the detectors over log files",
    )
    cmd.add_argument("paths", nargs="+", help="log files (plain or .gz), or - for stdin")
    cmd.add_argument("--source", help="log format when it cannot be inferred (see `secmon sources`)")
    cmd.add_argument(
        "--until",
        help="move the detectors' clock to this ISO time or `now` after the input (default: the last event's time)",
    )
    cmd.add_argument("--json", action="store_true", help="one JSON object per control instead of the table")
    cmd.add_argument("--check", action="store_true", help="exit 1 when a control is failing or overdue")
    cmd.set_defaults(func=_cmd_controls)


def _cmd_controls(args: argparse.Namespace, settings: SecmonSettings) -> int:
    seen = observe(args.paths, settings, source=args.source, until=instant(args.until))
    statuses = evaluate(CONTROLS, seen.alerts.values(), seen.evidence, seen.enabled)
    if args.json:
        sys.stdout.write("".join(as_json(s) + "\n" for s in statuses))
    else:
        print(render(statuses, seen))
    return 1 if args.check and any(s.status in ("failing", "overdue") for s in statuses) else 0
