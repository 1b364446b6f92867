"""`secmon` command line: run (embedded), ship, worker, detectors, templates."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline.anomaly.cli import register as register_anomaly
from pipeline.cliargs import instant
from pipeline.context.cli import register as register_context
from pipeline.controls import register as register_controls
from pipeline.dashboards.cli import register as register_dashboards
from pipeline.delivery.cli import register as register_delivery
from pipeline.lifecycle.cli import register as register_lifecycle
from pipeline.retrohunt import register as register_retrohunt
from pipeline.settings import SecmonSettings, load_settings
from pipeline.sigma_cli import register as register_sigma


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `secmon` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config)
    except (ValueError, FileNotFoundError) as exc:
        print(f"secmon: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "aiokafka", "elastic_transport"):  # client chatter hides our own messages
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return args.func(args, settings) or 0
    except (ValueError, KeyError, FileNotFoundError) as exc:  # ModelError is a ValueError
        print(f"secmon: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secmon", description="Streaming security monitoring.")
    parser.add_argument("--config", type=Path, default=None, help="YAML configuration file (env SECMON_CONFIG)")
    sub = parser.add_subparsers(title="commands")

    run = sub.add_parser("run", help="run the detectors over files or stdin, without Kafka or Elasticsearch")
    run.add_argument("paths", nargs="+", help="log files (plain or .gz), or - for stdin")
    run.add_argument("--source", help="log format when it cannot be inferred (see `secmon sources`)")
    run.add_argument("--alerts-out", type=Path, help="write alerts as JSON lines here (default: stdout unless a terminal)")
    run.add_argument("--dead-letter-out", type=Path, help="write rejected records as JSON lines here")
    run.add_argument("--until", help="after the input, move the detectors' clock to this ISO time or `now` "
                                     "(default: the last event's time) to see what is overdue")
    run.add_argument("--anomaly-model", type=Path, help="model file the anomaly_* detectors score with (anomaly.model; "
                                                        "default: they learn from the input)")
    run.set_defaults(func=_cmd_run)

    sources = sub.add_parser("sources", help="list the log formats secmon reads")
    sources.set_defaults(func=_cmd_sources)

    ship = sub.add_parser("ship", help="tail files (or stdin) into the raw Kafka topic of their source")
    ship.add_argument("paths", nargs="+", help="files to tail, or - for stdin")
    ship.add_argument("--source", required=True, help="log format of these files")
    ship.add_argument("--once", action="store_true", help="stop at end of input instead of tailing")
    ship.set_defaults(func=_cmd_ship)

    worker = sub.add_parser("worker", help="run the Faust worker (normalize, enrich, detect, index)")
    worker.set_defaults(func=_cmd_worker)

    topics = sub.add_parser("topics", help="create secmon's Kafka topics (idempotent)")
    topics.set_defaults(func=_cmd_topics)

    dets = sub.add_parser("detectors", help="list detectors or run their case files")
    dsub = dets.add_subparsers(title="detector commands")
    dlist = dsub.add_parser("list", help="every detector with severity, maturity and datasets")
    dlist.set_defaults(func=_cmd_detectors_list)
    dtest = dsub.add_parser("test", help="run the case files of every detector, or of the one named")
    dtest.add_argument("id", nargs="?", help="detector id")
    dtest.set_defaults(func=_cmd_detectors_test)

    templates = sub.add_parser("templates", help="install the Elasticsearch index templates (idempotent)")
    templates.set_defaults(func=_cmd_templates)
    register_lifecycle(sub)
    register_delivery(sub)
    register_context(sub)
    register_controls(sub)
    register_retrohunt(sub)
    register_sigma(sub)
    register_anomaly(sub)
    register_dashboards(sub)
    return parser


def _cmd_run(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline import embedded

    if args.anomaly_model:
        settings.anomaly.model = args.anomaly_model
    dead_out = open(args.dead_letter_out, "w", encoding="utf-8") if args.dead_letter_out else None
    try:
        summary = embedded.run(args.paths, settings, source=args.source, dead_letter_out=dead_out,
                               progress=embedded.stderr_progress(), until=instant(args.until))
    finally:
        if dead_out:
            dead_out.close()
    if args.alerts_out:
        with open(args.alerts_out, "w", encoding="utf-8") as out:
            embedded.write_alerts(summary.alerts.values(), out)
    elif not sys.stdout.isatty():
        embedded.write_alerts(summary.alerts.values(), sys.stdout)
    print(summary.render(), file=sys.stderr)
    return 0


def _cmd_sources(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.normalizers.registry import NORMALIZERS

    for source_id, normalizer in sorted(NORMALIZERS.items()):
        print(f"{source_id:<20} {normalizer.framing:<9} {normalizer.title}")
    return 0


def _cmd_ship(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.shipper import ship

    return ship(args.paths, args.source, settings, follow=not args.once)


def _cmd_worker(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.app import run_worker

    return run_worker(settings)


def _cmd_topics(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.kafka.topics import ensure_topics

    for name in ensure_topics(settings):
        print(name)
    return 0


def _cmd_templates(args: argparse.Namespace, settings: SecmonSettings) -> int:
    import asyncio

    from pipeline.sinks.elasticsearch import client, install_templates

    async def go() -> list[str]:
        async with client(settings.es) as es:
            return await install_templates(es, settings.es.index_prefix)

    for name in asyncio.run(go()):
        print(name)
    return 0


def _cmd_detectors_list(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from detectors.registry import DETECTORS, configure

    enabled = {det.meta.id for det, _ in configure(settings.detection.detectors)}
    print(f"{'id':<32} {'severity':<9} {'maturity':<13} {'enabled':<8} datasets")
    for det_id, det in sorted(DETECTORS.items()):
        m = det.meta
        print(f"{det_id:<32} {m.severity:<9} {m.maturity:<13} {'yes' if det_id in enabled else 'no':<8} {','.join(m.datasets)}")
    return 0


def _cmd_detectors_test(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from detectors.cases import load_cases, run_case
    from detectors.registry import DETECTORS

    if args.id and args.id not in DETECTORS:
        raise KeyError(f"unknown detector {args.id!r}; see `secmon detectors list`")
    failed = total = 0
    for det_id in [args.id] if args.id else sorted(DETECTORS):
        for case in load_cases(det_id):
            result = run_case(DETECTORS[det_id], case)
            total += 1
            failed += not result.ok
            print(f"{'PASS' if result.ok else 'FAIL'} {det_id}: {result.name}")
            for problem in result.problems:
                print(f"     {problem}")
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0

