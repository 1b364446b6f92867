"""Judge the sign-in detectors on a labelled month (bench.signin_month): takeovers caught, benign alarms per 1,000.

    python -m bench.anomaly_eval DIR [--config secmon.yaml] [--anomaly-model MODEL] [--without-anomaly] [--json]

Runs the embedded runner (`pipeline.embedded.run`, the settings of `--config` / SECMON_CONFIG with
`enrich.context_dir` = DIR/context) over DIR/signins.jsonl and scores its alerts against
DIR/labels.jsonl. `--anomaly-model` sets `anomaly.model` (as `secmon run --anomaly-model` does);
without it the anomaly_* detectors learn from the month itself. `--without-anomaly` disables every
anomaly_* detector: the figures of the rules alone, to compare with.

Matching alerts to labels: an event's id is derived from where its record was read (normalizer,
file identity, byte offset), never from time or order. So the id of every line is recomputed by
reading the same file the way the runner does (`pipeline.readers.read_records` +
`pipeline.process.process_record`, without enrichers: the normalizer sets the id), and each
alert's `secmon.event_ids` map back to line numbers, hence to takeovers and hard-negative
episodes. An alert citing no event id at all falls back to its `user.name` and time window.

- A takeover is detected when an alert involving one of its sign-ins (failures included) at most
  1 h after its first success has severity high or critical; recall is also given at any
  severity and at paging level (medium or higher, maturity not experimental).
- Benign alerts are those involving no takeover sign-in; they are counted per rule and severity,
  per 1,000 benign sign-ins, and per hard-negative kind (the episode whose lines they involve).
- For `anomaly_*` rules: the share of alerts explained (a non-empty `secmon.anomaly.features`).
An alert's severity is its final one (a merged alert keeps the worst severity it was given).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from detectors.registry import DETECTORS, DetectorConfig
from pipeline import embedded
from pipeline.normalizers import registry
from pipeline.process import process_record
from pipeline.readers import read_records
from pipeline.settings import SecmonSettings, load_settings
from schemas.alert import Alert

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
DETECTION_WINDOW = timedelta(hours=1)
ANOMALY_PREFIX = "anomaly_"


@dataclass(frozen=True)
class Line:
    """One sign-in line: its event id, time and user."""

    event_id: str
    ts: datetime
    user: str


@dataclass
class Label:
    """A takeover or a benign episode from labels.jsonl, with its lines."""

    id: str
    kind: str
    user: str
    benign: bool
    start: datetime
    lines: frozenset[int]
    first_success: datetime | None = None
    raw: dict = field(default_factory=dict)


@dataclass
class Judged:
    """One alert and what it involves: takeovers (with the earliest involved sign-in) and episodes."""

    alert: Alert
    takeovers: dict[str, datetime]
    episodes: set[str]

    @property
    def rule(self) -> str:
        """The rule id."""
        return self.alert.rule.id

    @property
    def severity(self) -> str:
        """The alert's (final) severity."""
        return self.alert.alert.severity

    @property
    def paging(self) -> bool:
        """Severity medium or higher from a rule (or finding) that is not experimental."""
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK["medium"] and self.alert.rule.maturity != "experimental"


# -- inputs --------------------------------------------------------------------------------------
def parse_ts(text: str) -> datetime:
    """An ISO 8601 instant (with `Z`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_labels(path: Path) -> list[Label]:
    """Every label of labels.jsonl."""
    labels = []
    for text in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(text)
        labels.append(
            Label(
                id=raw.get("id") or f"L{len(labels) + 1}",
                kind=raw["kind"],
                user=raw["user"],
                benign=bool(raw.get("benign")),
                start=parse_ts(raw["start"]),
                lines=frozenset(raw["lines"]),
                raw=raw,
                first_success=parse_ts(raw["first_success"]) if raw.get("first_success") else None,
            )
        )
    return labels


def line_events(path: Path, settings: SecmonSettings) -> dict[int, Line]:
    """Line number -> the event the embedded runner makes of it (same reader, same normalizer, same ids)."""
    normalizer = registry.get("app_signin")
    line_of = _line_numbers(path)
    parse_options, limit = settings.parse.options(), settings.parse.max_record_bytes
    lines = {}
    for record in read_records(str(path), normalizer, limit):
        for event in process_record(record, normalizer, (), parse_options, limit).events:
            lines[line_of[record.origin.offset]] = Line(event.event.id, event.timestamp, event.user.name)
    return lines


def _line_numbers(path: Path) -> dict[int, int]:
    """Byte offset of each line's start -> its 1-based line number."""
    offsets, offset = {}, 0
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, 1):
            offsets[offset] = number
            offset += len(raw)
    return offsets


def eval_settings(
    config: Path | None, out_dir: Path, anomaly_model: Path | None = None, without_anomaly: bool = False
) -> SecmonSettings:
    """The configured settings with the month's context table, the anomaly model or no anomaly detectors."""
    settings = load_settings(config)
    settings.enrich = settings.enrich.model_copy(update={"context_dir": out_dir / "context"})
    if anomaly_model is not None:
        if getattr(settings, "anomaly", None) is None or "model" not in type(settings.anomaly).model_fields:
            raise SystemExit("anomaly_eval: these settings have no anomaly.model; --anomaly-model cannot apply")
        settings.anomaly = settings.anomaly.model_copy(update={"model": anomaly_model})
    if without_anomaly:
        disable_anomaly(settings)
    return settings


def disable_anomaly(settings: SecmonSettings) -> None:
    """Disable every registered anomaly_* detector (none registered: nothing to do)."""
    detectors = dict(settings.detection.detectors)
    for det_id in DETECTORS:
        if det_id.startswith(ANOMALY_PREFIX):
            detectors[det_id] = detectors.get(det_id, DetectorConfig()).model_copy(update={"enabled": False})
    settings.detection = settings.detection.model_copy(update={"detectors": detectors})


# -- judging -------------------------------------------------------------------------------------
def judge(alerts: list[Alert], lines: dict[int, Line], labels: list[Label]) -> list[Judged]:
    """What each alert involves, through its event ids (or, citing none, its user and time)."""
    line_by_id = {line.event_id: number for number, line in lines.items()}
    owner = {n: label for label in labels for n in label.lines}
    judged = []
    for alert in alerts:
        takeovers: dict[str, datetime] = {}
        episodes: set[str] = set()
        for event_id in alert.secmon.event_ids:
            number = line_by_id.get(event_id)
            label = owner.get(number) if number is not None else None
            if label is None:
                continue
            if label.benign:
                episodes.add(label.id)
            else:
                ts = lines[number].ts
                takeovers[label.id] = min(ts, takeovers.get(label.id, ts))
        if not alert.secmon.event_ids:
            takeovers = _by_user_and_time(alert, labels)
        judged.append(Judged(alert, takeovers, episodes))
    return judged


def _by_user_and_time(alert: Alert, labels: list[Label]) -> dict[str, datetime]:
    """Takeovers of the alert's user whose window (start .. first success + 1 h) holds the alert's first finding."""
    user = alert.user.name if alert.user else None
    seen = alert.alert.first_seen
    return {
        lb.id: seen
        for lb in labels
        if not lb.benign
        and lb.user == user
        and lb.first_success
        and lb.start <= seen <= lb.first_success + DETECTION_WINDOW
    }


def takeover_results(labels: list[Label], judged: list[Judged]) -> list[dict]:
    """Per takeover: the alerts in time (<= 1 h after the first success) and whether they detect it."""
    results = []
    for lb in (lb for lb in labels if not lb.benign):
        deadline = (lb.first_success or lb.start) + DETECTION_WINDOW
        timely = [j for j in judged if lb.id in j.takeovers and j.takeovers[lb.id] <= deadline]
        results.append(
            {
                "id": lb.id,
                "kind": lb.kind,
                "user": lb.user,
                "start": lb.raw["start"],
                "high": any(SEVERITY_RANK[j.severity] >= SEVERITY_RANK["high"] for j in timely),
                "paging": any(j.paging for j in timely),
                "any": bool(timely),
                "rules": sorted({f"{j.rule}:{j.severity}" for j in timely}),
            }
        )
    return results


def recall(results: list[dict]) -> dict:
    """Detected / total at high+, paging level and any severity, overall and per kind."""

    def share(rows: list[dict]) -> dict:
        n = len(rows)
        return {
            "total": n,
            **{
                level: {
                    "detected": sum(r[level] for r in rows),
                    "recall": round(sum(r[level] for r in rows) / n, 3) if n else None,
                }
                for level in ("high", "paging", "any")
            },
        }

    kinds = sorted({r["kind"] for r in results})
    return {"overall": share(results), "by_kind": {k: share([r for r in results if r["kind"] == k]) for k in kinds}}


def per_thousand(count: int, signins: int) -> float:
    """A count per 1,000 sign-ins."""
    return round(1000 * count / signins, 3) if signins else 0.0


def benign_rules(judged: list[Judged], benign_signins: int, results: list[dict]) -> list[dict]:
    """Per rule and severity: benign alerts (count, per 1,000 benign sign-ins, paging) and takeovers alerted in time."""
    caught: dict[str, set[str]] = defaultdict(set)
    for r in results:
        for rule_severity in r["rules"]:
            caught[rule_severity].add(r["id"])
    groups: dict[tuple[str, str, str], list[Judged]] = defaultdict(list)
    for j in judged:
        groups[(j.rule, j.severity, j.alert.rule.maturity)].append(j)
    rows = []
    for (rule, severity, maturity), js in sorted(groups.items(), key=lambda kv: (kv[0][0], -SEVERITY_RANK[kv[0][1]])):
        benign = [j for j in js if not j.takeovers]
        rows.append(
            {
                "rule": rule,
                "severity": severity,
                "maturity": maturity,
                "benign_alerts": len(benign),
                "benign_findings": sum(j.alert.alert.count for j in benign),
                "per_1k": per_thousand(len(benign), benign_signins),
                "paging_per_1k": per_thousand(sum(j.paging for j in benign), benign_signins),
                "takeover_alerts": len(js) - len(benign),
                "takeovers_caught": len(caught[f"{rule}:{severity}"]),
            }
        )
    return rows


def hard_negatives(labels: list[Label], judged: list[Judged]) -> dict:
    """Per hard-negative kind: episodes, their sign-ins, how many drew (paging) alerts, and from which rules."""
    out: dict[str, dict] = {}
    for lb in (lb for lb in labels if lb.benign):
        row = out.setdefault(lb.kind, {"episodes": 0, "signins": 0, "alerted": 0, "paged": 0, "rules": Counter()})
        row["episodes"] += 1
        row["signins"] += len(lb.lines)
        mine = [j for j in judged if not j.takeovers and lb.id in j.episodes]
        row["alerted"] += bool(mine)
        row["paged"] += any(j.paging for j in mine)
        row["rules"].update(f"{j.rule}:{j.severity}" for j in mine)
    background = [j for j in judged if not j.takeovers and not j.episodes]
    out["(routine)"] = {
        "episodes": None,
        "signins": None,
        "alerted": None,
        "paged": None,
        "rules": Counter(f"{j.rule}:{j.severity}" for j in background),
    }
    return {kind: {**row, "rules": dict(row["rules"].most_common())} for kind, row in out.items()}


def explained(judged: list[Judged]) -> dict:
    """For anomaly_* rules: alerts, and the share carrying a non-empty secmon.anomaly.features."""
    out = {}
    for rule in sorted({j.rule for j in judged if j.rule.startswith(ANOMALY_PREFIX)}):
        js = [j for j in judged if j.rule == rule]
        with_features = sum(bool(j.alert.secmon.anomaly and j.alert.secmon.anomaly.features) for j in js)
        out[rule] = {"alerts": len(js), "explained": with_features, "share": round(with_features / len(js), 3)}
    return out


def evaluate(out_dir: Path, settings: SecmonSettings) -> dict:
    """Run the detectors over the month and score them against its labels."""
    path = out_dir / "signins.jsonl"
    labels = load_labels(out_dir / "labels.jsonl")
    lines = line_events(path, settings)
    summary = embedded.run([str(path)], settings, source="app_signin", progress=embedded.stderr_progress())
    judged = judge(list(summary.alerts.values()), lines, labels)
    attacker_lines = set().union(*(lb.lines for lb in labels if not lb.benign))
    benign_signins = len(lines) - len(attacker_lines)
    results = takeover_results(labels, judged)
    benign = [j for j in judged if not j.takeovers]
    return {
        "signins": len(lines),
        "benign_signins": benign_signins,
        "attacker_signins": len(attacker_lines),
        "alerts": len(judged),
        "benign_alerts": len(benign),
        "dead_letters": sum(summary.dead_letters.values()),
        "detector_errors": dict(summary.detector_errors),
        "seconds": round(summary.seconds, 1),
        "recall": recall(results),
        "benign_per_1k": per_thousand(len(benign), benign_signins),
        "paging_per_1k": per_thousand(sum(j.paging for j in benign), benign_signins),
        "rules": benign_rules(judged, benign_signins, results),
        "hard_negatives": hard_negatives(labels, judged),
        "anomaly_explained": explained(judged),
        "takeovers": results,
    }


# -- report --------------------------------------------------------------------------------------
def _table(header: list[str], rows: list[list]) -> list[str]:
    """Left-aligned text columns."""
    cells = [header] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def _recall_cell(level: dict) -> str:
    """`detected (share)`, or `-` without takeovers."""
    return "-" if level["recall"] is None else f"{level['detected']} ({level['recall']:.0%})"


def render(report: dict) -> str:
    """The report as readable tables."""
    rec = report["recall"]
    out = [
        f"anomaly_eval: {report['signins']:,} sign-ins ({report['attacker_signins']} by attackers), "
        f"{report['alerts']} alerts ({report['benign_alerts']} benign) in {report['seconds']}s; "
        f"dead letters {report['dead_letters']}, detector errors {report['detector_errors'] or 0}",
        "",
        "Takeovers detected within 1 h of the first success (high+ / paging / any severity):",
    ]
    kinds = [("all", rec["overall"])] + list(rec["by_kind"].items())
    out += _table(
        ["kind", "takeovers", "high+", "paging", "any"],
        [[k, r["total"], _recall_cell(r["high"]), _recall_cell(r["paging"]), _recall_cell(r["any"])] for k, r in kinds],
    )
    out += [
        "",
        f"Benign alerts: {report['benign_per_1k']} per 1,000 benign sign-ins; paging "
        f"(medium+, not experimental): {report['paging_per_1k']} per 1,000",
        "",
    ]
    out += _table(
        [
            "rule",
            "severity",
            "maturity",
            "benign",
            "findings",
            "per 1k",
            "paging/1k",
            "on takeovers",
            "takeovers in 1 h",
        ],
        [
            [
                r["rule"],
                r["severity"],
                r["maturity"],
                r["benign_alerts"],
                r["benign_findings"],
                r["per_1k"],
                r["paging_per_1k"],
                r["takeover_alerts"],
                r["takeovers_caught"],
            ]
            for r in report["rules"]
        ],
    )
    out += ["", "Hard negatives (benign episodes) and the alerts they drew:"]
    out += _table(
        ["kind", "episodes", "sign-ins", "alerted", "paged", "alerts by rule"],
        [
            [
                k,
                r["episodes"],
                r["signins"],
                r["alerted"],
                r["paged"],
                ", ".join(f"{rule} x{n}" for rule, n in r["rules"].items()) or "none",
            ]
            for k, r in report["hard_negatives"].items()
        ],
    )
    out += ["", "Anomaly rules explained (alerts with secmon.anomaly.features):"]
    out += (
        _table(
            ["rule", "alerts", "explained", "share"],
            [
                [rule, r["alerts"], r["explained"], f"{r['share']:.0%}"]
                for rule, r in report["anomaly_explained"].items()
            ],
        )
        if report["anomaly_explained"]
        else ["  no anomaly_* rule raised an alert"]
    )
    missed = [t for t in report["takeovers"] if not t["high"]]
    out += ["", f"Takeovers without a high+ alert in time ({len(missed)}):"]
    out += _table(
        ["id", "kind", "user", "start", "alerts in time"],
        [[t["id"], t["kind"], t["user"], t["start"], ", ".join(t["rules"]) or "none"] for t in missed],
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Command line: evaluate DIR and print the tables (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="output directory of bench.signin_month")
    parser.add_argument("--config", type=Path, help="secmon YAML config (default: SECMON_CONFIG, else defaults)")
    parser.add_argument(
        "--anomaly-model",
        type=Path,
        help="model file the anomaly_* detectors score with (anomaly.model); default: they learn from the month",
    )
    parser.add_argument("--without-anomaly", action="store_true", help="disable the anomaly_* detectors")
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of the tables")
    args = parser.parse_args(argv)
    report = evaluate(args.dir, eval_settings(args.config, args.dir, args.anomaly_model, args.without_anomaly))
    print(json.dumps(report, indent=2, default=str) if args.json else render(report))


if __name__ == "__main__":
    main()
