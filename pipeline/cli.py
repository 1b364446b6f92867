"""`secmon` command line: run (embedded), ship, worker, detectors, templates."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline import logthrottle
from pipeline.anomaly.cli import register as register_anomaly
from pipeline.check import register as register_check
from pipeline.cliargs import instant
from pipeline.context.cli import register as register_context
from pipeline.controls import register as register_controls
from pipeline.dashboards.cli import register as register_dashboards
from pipeline.delivery.cli import register as register_delivery
from pipeline.failures import (
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Failure,
    Terminated,
    explain,
    require,
    stop_on_sigterm,
)
from pipeline.lifecycle.cli import register as register_lifecycle
from pipeline.readers import STDIN
from pipeline.retrohunt import register as register_retrohunt
from pipeline.service.cli import register as register_serve
from pipeline.settings import SecmonSettings, load_settings
from pipeline.sigma_cli import register as register_sigma


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `secmon` console script; the one place expected failures become messages."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config, debug, argv = _global_options(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    args.config = config if config is not None else getattr(args, "config", None)
    args.debug = debug
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
    settings: SecmonSettings | None = None
    stop_on_sigterm()
    try:
        if getattr(args, "own_settings", False):  # `secmon check` reports bad settings with everything else
            return int(args.func(args))
        settings = load_settings(args.config)
        _logging(settings, args)
        return int(args.func(args, settings) or 0)
    except Terminated:
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the error boundary: explained, or re-raised as a bug
        failure = explain(exc, settings)
        if failure is None or debug:
            raise
        print(failure.render(), file=sys.stderr)
        return failure.code


def _global_options(argv: list[str]) -> tuple[Path | None, bool, list[str]]:
    """--config FILE and --debug wherever they are given (before or after the subcommand)."""
    config: Path | None = None
    debug, rest, i = False, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg == "--debug":
            debug = True
        elif arg == "--config" and i + 1 < len(argv):
            config, i = Path(argv[i + 1]), i + 1
        elif arg.startswith("--config="):
            config = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return config, debug, rest


def _logging(settings: SecmonSettings, args: argparse.Namespace) -> None:
    level = "DEBUG" if args.debug or getattr(args, "verbose", False) else settings.log_level
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logthrottle.install()  # a broker outage would otherwise log every reconnect attempt
    quiet = logging.DEBUG if args.debug else logging.ERROR  # client retries would bury our one-line message
    for noisy in ("kafka", "aiokafka", "elastic_transport"):
        logging.getLogger(noisy).setLevel(max(quiet, logging.getLogger().level))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("secmon")
    except PackageNotFoundError:
        return "unknown (not installed: run scripts/bootstrap.sh)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secmon", description="Streaming security monitoring.")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML configuration file (env SECMON_CONFIG); also accepted after the subcommand",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    parser.add_argument("--version", action="version", version=f"secmon {_version()}")
    sub = parser.add_subparsers(title="commands")

    run = sub.add_parser("run", help="run the detectors over files or stdin, without Kafka or Elasticsearch")
    run.add_argument("paths", nargs="+", help="log files (plain or .gz), or - for stdin")
    run.add_argument("--source", help="log format when it cannot be inferred (see `secmon sources`)")
    run.add_argument(
        "--alerts-out", type=Path, help="write alerts as JSON lines here (default: stdout unless a terminal)"
    )
    run.add_argument("--dead-letter-out", type=Path, help="write rejected records as JSON lines here")
    run.add_argument("--events-out", type=Path, help="write the normalised events as JSON lines here (- for stdout)")
    loud = run.add_mutually_exclusive_group()
    loud.add_argument("--quiet", action="store_true", help="no summary on stderr (unless most input is rejected)")
    loud.add_argument("--verbose", action="store_true", help="list every alert, and log at DEBUG")
    run.add_argument(
        "--until",
        help="after the input, move the detectors' clock to this ISO time or `now` "
        "(default: the last event's time) to see what is overdue",
    )
    run.add_argument(
        "--anomaly-model",
        type=Path,
        help="model file the anomaly_* detectors score with (anomaly.model; default: they learn from the input)",
    )
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
    register_serve(sub)
    register_check(sub)
    return parser


def _cmd_run(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from contextlib import ExitStack

    from pipeline import embedded

    if args.anomaly_model:
        settings.anomaly.model = args.anomaly_model
    until = instant(args.until)
    streaming = STDIN in args.paths
    with ExitStack() as outputs:  # every output is opened before the run: a bad path fails in a second
        alerts_out = _output(outputs, args.alerts_out, "--alerts-out")
        dead_out = _output(outputs, args.dead_letter_out, "--dead-letter-out")
        events_out = _output(outputs, args.events_out, "--events-out")
        if alerts_out is None and not sys.stdout.isatty():
            alerts_out = sys.stdout
        on_alert = None
        if streaming and alerts_out is not None:

            def on_alert(alert, out=alerts_out):  # a later line for the same alert id supersedes it
                embedded.write_alerts([alert], out)
                out.flush()

        summary = embedded.run(
            args.paths,
            settings,
            source=args.source,
            dead_letter_out=dead_out,
            progress=None if args.quiet else embedded.stderr_progress(),
            until=until,
            on_alert=on_alert,
            events_out=events_out,
            tune_heap=True,  # this process exists for the run
        )
        if alerts_out is not None and not streaming:
            embedded.write_alerts(summary.alerts.values(), alerts_out)
    if not args.quiet or summary.mostly_rejected():
        print(summary.render(verbose=args.verbose), file=sys.stderr)
    if summary.interrupted:
        return EXIT_TERMINATED if summary.interrupted == "SIGTERM" else EXIT_INTERRUPTED
    if summary.mostly_rejected():
        print(
            f"secmon: {summary.rejected} of {summary.records} records rejected\n  "
            f"{embedded.rejected_hint(summary, args.source)}",
            file=sys.stderr,
        )
        return EXIT_INPUT
    return 0


def _output(stack, path: Path | None, flag: str):
    """The file opened for writing now, or a Failure saying why it cannot be."""
    if path is None:
        return None
    if str(path) == STDIN:
        return sys.stdout
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8"))
    except OSError as exc:
        raise Failure(
            f"{flag} {path}: {exc.strerror}",
            f"create the folder ({path.parent}) or pass a writable path; nothing was read",
            EXIT_USAGE,
        ) from None


def _require_kafka(settings: SecmonSettings) -> None:
    require("Kafka", settings.kafka.bootstrap, 9092, "kafka.bootstrap (SECMON_KAFKA_BOOTSTRAP)")


def _require_es(settings: SecmonSettings) -> None:
    require("Elasticsearch", settings.es.url, 9200, "es.url (SECMON_ES_URL)")


def _cmd_sources(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.normalizers.registry import NORMALIZERS

    for source_id, normalizer in sorted(NORMALIZERS.items()):
        print(f"{source_id:<20} {normalizer.framing:<9} {normalizer.title}")
    return 0


def _cmd_ship(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.shipper import ship

    _require_kafka(settings)
    return ship(args.paths, args.source, settings, follow=not args.once)


def _cmd_worker(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.app import run_worker

    _require_kafka(settings)
    _require_es(settings)
    return run_worker(settings)


def _cmd_topics(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.kafka.topics import ensure_topics

    _require_kafka(settings)
    for name in ensure_topics(settings):
        print(name)
    return 0


def _cmd_templates(args: argparse.Namespace, settings: SecmonSettings) -> int:
    import asyncio

    from pipeline.sinks.elasticsearch import client, install_templates

    _require_es(settings)

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
        print(
            f"{det_id:<32} {m.severity:<9} {m.maturity:<13} {'yes' if det_id in enabled else 'no':<8} {','.join(m.datasets)}"
        )
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
