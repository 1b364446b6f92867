"""`secmon check`: validate the whole configuration once and report every problem with its location.

Settings, detectors and their parameters, Sigma rule folders, delivery receivers and the routes
file, context table files and anomaly model files are all checked in one pass; nothing stops at
the first section that fails. The worker runs the same check at startup (`check_settings`) and
builds its runtime from what it validated (`Checked`), so what `secmon check` accepts is what the
worker runs, and nothing is validated twice.

A problem `stops` the worker when it cannot run correctly with it (bad settings, detector
parameters, receivers, routes or context rows); the others (a Sigma rule file that does not
parse, an anomaly model file that does not verify) leave the worker running without that piece,
as it always has, and are logged. `secmon check` exits 2 on any problem.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from detectors.base import Detector
from detectors.registry import validate as validate_detectors
from detectors.sigma.loader import Loaded
from detectors.sigma.loader import load as load_sigma
from detectors.sigma.stream import build as sigma_detectors
from pipeline.delivery.routing import RoutingTree, load_routes
from pipeline.settings import SecmonSettings, load_settings
from schemas.errors import ConfigError, SecmonError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where it is (file:line or settings path) and whether the worker can run."""

    where: str
    what: str
    stops: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" + ("" if self.stops else " (the worker runs without it)")


@dataclass(frozen=True)
class Checked:
    """The validated configuration the worker's runtime is built from."""

    settings: SecmonSettings
    detectors: list[tuple[Detector, BaseModel]]  # enabled detectors and Sigma rules, parameters validated
    routes: RoutingTree | None  # None: delivery is off (no delivery.routes_file)


@dataclass
class Report:
    """Every problem found, what was checked, and the validated objects when nothing stops."""

    problems: list[Problem] = field(default_factory=list)
    checked: Checked | None = None
    summary: list[str] = field(default_factory=list)

    @property
    def stops(self) -> bool:
        """Whether a problem keeps the worker from starting."""
        return any(p.stops for p in self.problems)

    def render(self) -> str:
        """The report as printed: the problems, then what was checked."""
        head = f"{len(self.problems)} configuration problem(s):" if self.problems else "configuration OK"
        return "\n".join([head, *(f"  {p}" for p in self.problems), *(f"  checked: {s}" for s in self.summary)])


def check_config(config: Path | None) -> Report:
    """Load the settings (`config`: the YAML file, else SECMON_CONFIG) and check everything."""
    try:
        settings = load_settings(config)
    except FileNotFoundError as exc:
        return Report([Problem(str(config), str(exc))])
    except ValidationError as exc:
        where = str(config) if config else "settings (environment)"
        return Report([Problem(f"{where}: {'.'.join(map(str, e['loc'])) or '(top)'}", e["msg"]) for e in exc.errors()])
    except ValueError as exc:  # not YAML (file:line:col), or not sections at the top level
        return Report([Problem(str(config or "SECMON_CONFIG"), str(exc))])
    return check_settings(settings, str(config) if config else "settings")


def check_settings(settings: SecmonSettings, where: str = "settings") -> Report:
    """Check every section of loaded settings; `where` names their file in the report."""
    report = Report()
    detectors = _detectors(settings, where, report)
    routes = _delivery(settings, where, report)
    _context(settings, report)
    _anomaly(settings, report)
    if not report.stops:
        report.checked = Checked(settings=settings, detectors=detectors, routes=routes)
    return report


def _detectors(settings: SecmonSettings, where: str, report: Report) -> list[tuple[Detector, BaseModel]]:
    chosen, problems = validate_detectors(settings.detection.detectors)
    report.problems += [Problem(f"{where}: detection.{p.split(': ', 1)[0]}", p.split(": ", 1)[-1]) for p in problems]
    sigma = settings.detection.sigma
    loaded = load_sigma(sigma.rules_dirs) if sigma.rules_dirs else Loaded()
    report.problems += [
        Problem(
            f"{p.file}:{p.line}" if p.line else p.file,
            p.reason if p.rule == "-" else f"Sigma rule {p.rule}: {p.reason}",
            stops=False,
        )
        for p in loaded.problems
    ]
    try:
        rules = sigma_detectors(sigma, settings.parse.keep_original, loaded)
    except ConfigError as exc:
        report.problems.append(Problem(f"{where}: detection.sigma", str(exc).removeprefix("detection.sigma: ")))
        rules = []
    report.summary.append(
        f"{len(chosen)} detectors enabled, {len(rules)} Sigma rules and correlations run"
        f" ({len(loaded.rules)} loaded from {len(sigma.rules_dirs)} folder(s))"
    )
    return chosen + rules


def _delivery(settings: SecmonSettings, where: str, report: Report) -> RoutingTree | None:
    cfg = settings.delivery
    if cfg.routes_file is None:
        report.summary.append("delivery off (no delivery.routes_file)")
        return None
    report.problems += [Problem(f"{where}: {p.split(': ', 1)[0]}", p.split(": ", 1)[-1]) for p in cfg.problems()]
    try:
        tree = load_routes(cfg.routes_file, cfg.receivers)
    except OSError as exc:
        report.problems.append(Problem(str(cfg.routes_file), f"cannot read the routes file: {exc.strerror or exc}"))
        return None
    except SecmonError as exc:  # RoutingError: the first line names the file, then one problem a line
        lines = str(exc).splitlines()
        report.problems += [_route_problem(cfg.routes_file, line.strip()) for line in lines[1:]] or [
            Problem(str(cfg.routes_file), lines[0] if lines else "invalid routes file")
        ]
        return None
    report.summary.append(f"routes file {cfg.routes_file} ({len(cfg.receivers)} receivers)")
    return tree


def _context(settings: SecmonSettings, report: Report) -> None:
    from pipeline.context.loader import ContextError, load_directory

    directory = settings.enrich.context_dir
    if directory is None:
        return
    try:
        tables = load_directory(directory)
    except ContextError as exc:
        report.problems += [Problem(*_located(p, str(directory))) for p in exc.problems]
        return
    report.summary.append(f"context tables in {directory}: {', '.join(sorted(tables)) or 'none'}")


def _anomaly(settings: SecmonSettings, report: Report) -> None:
    from detectors.anomaly.artifact import ModelError, load

    cfg = settings.anomaly
    for name, path in (("anomaly.model", cfg.model), ("anomaly.shadow_model", cfg.shadow_model)):
        if path is None:
            continue
        if not path.exists():
            if not path.parent.is_dir():
                report.problems.append(
                    Problem(
                        str(path),
                        f"{name}: its folder {path.parent} does not exist, so a "
                        "trained model cannot be saved there; create it",
                        stops=False,
                    )
                )
            continue  # the leader trains it (anomaly.retrain_hours) or `secmon anomaly train` writes it
        try:
            load(path, cfg.signing_key())
        except (ModelError, OSError) as exc:
            report.problems.append(Problem(str(path), f"{name}: {exc}", stops=False))
        else:
            report.summary.append(f"{name} {path} verifies")


def _route_problem(path: Path, line: str) -> Problem:
    """A routes-file problem written `<name>:<line> <route path>: what`, located at path:line."""
    head, _, rest = line.partition(" ")
    name, _, number = head.partition(":")
    return (
        Problem(f"{path}:{number}", rest)
        if name == path.name and number.isdigit() and rest
        else Problem(str(path), line)
    )


def _located(problem: str, fallback: str) -> tuple[str, str]:
    """(file:line, what) of a problem written `<file>:<line>: what` (else located at `fallback`)."""
    head, sep, rest = problem.partition(": ")
    return (head, rest) if sep and rest else (fallback, problem)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `secmon check` to the `secmon` parser."""
    cmd = sub.add_parser("check", help="validate the whole configuration and list every problem (exit 2 if any)")
    cmd.set_defaults(func=run_check, own_settings=True)  # it reports bad settings with the rest


def run_check(args: argparse.Namespace) -> int:
    """`secmon check`: print the report; 0 when clean, 2 when anything is wrong."""
    report = check_config(args.config)  # secmon [check] --config F, else env SECMON_CONFIG
    print(report.render(), file=sys.stderr if report.problems else sys.stdout)
    return 2 if report.problems else 0
