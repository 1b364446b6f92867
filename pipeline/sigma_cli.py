"""`secmon sigma check|match`: which Sigma rules run and why the others do not; hunt with them over files.

`match` writes one JSON line per (rule, matched record): `{"rule_id", "title", "level", "file",
"line", ...}` with the 1-based line of the record. `--fields ecs` (default) normalizes each record as
`secmon run` does and matches the rules of its logsource's dataset, correlations included (event
time); `--fields raw` matches every rule against each line's own JSON fields (dotted names, no
mapping, no logsource filter), so any JSON log can be hunted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from detectors.sigma.compiled import Compiled, compile_rules
from detectors.sigma.correlate import CompiledCorrelation, observe
from detectors.sigma.index import RuleIndex
from detectors.sigma.loader import load
from detectors.sigma.stream import Router, skip_reasons
from detectors.sigma.view import RecordView
from pipeline.settings import SecmonSettings


def register(sub: argparse._SubParsersAction) -> None:
    """Add `secmon sigma check` and `secmon sigma match`."""
    sigma = sub.add_parser("sigma", help="check Sigma rules, or hunt with them over log files")
    ssub = sigma.add_subparsers(title="sigma commands")
    check = ssub.add_parser("check", help="list the rules that load and run, and those skipped with the reason")
    check.add_argument("dirs", nargs="+", type=Path, help="rule folders or files")
    check.add_argument(
        "--fields",
        choices=("ecs", "raw"),
        default="ecs",
        help="as the stream runs them (ecs) or as `match --fields raw` does",
    )
    check.set_defaults(func=cmd_check)
    match = ssub.add_parser("match", help="match Sigma rules against log files; one JSON line per match")
    match.add_argument("paths", nargs="+", help="log files (plain or .gz), or - for stdin")
    match.add_argument("--rules", action="append", type=Path, required=True, help="rule folder or file (repeatable)")
    match.add_argument("--source", help="log format (--fields ecs) when it cannot be inferred (see `secmon sources`)")
    match.add_argument(
        "--fields",
        choices=("ecs", "raw"),
        default="ecs",
        help="ecs: normalize, map fields, match the rules of each logsource; raw: every rule "
        "against each line's own JSON fields",
    )
    match.add_argument("--out", type=Path, help="write the matches here (default: stdout)")
    match.set_defaults(func=cmd_match)


def compiled_rules(dirs: list[Path], fields: str, settings: SecmonSettings) -> Compiled:
    """Load and compile the rules as `fields` says, with the configured placeholders and skipped statuses."""
    sigma = settings.detection.sigma
    return compile_rules(load(dirs), fields, sigma.placeholders, tuple(sigma.skip_statuses))  # type: ignore[arg-type]


def cmd_check(args: argparse.Namespace, settings: SecmonSettings) -> int:
    """Print what loads, what runs (per dataset) and what is skipped, with file:line and reason."""
    compiled = compiled_rules(args.dirs, args.fields, settings)
    print(
        f"{compiled.loaded} rules loaded, {len(compiled.rules)} rules and {len(compiled.correlations)} "
        f"correlations run, {len(compiled.skipped)} skipped"
    )
    datasets: dict[str, int] = {}
    for rule in compiled.rules:
        for dataset in rule.datasets or ("any record (--fields raw)",):
            datasets[dataset] = datasets.get(dataset, 0) + 1
    for dataset, n in sorted(datasets.items()):
        print(f"  run  {n:>4}  {dataset}")
    for reason, n in skip_reasons(compiled.skipped).most_common():
        print(f"  skip {n:>4}  {reason}")
    for problem in compiled.skipped:
        print(f"SKIPPED {problem}")
    return 0


def cmd_match(args: argparse.Namespace, settings: SecmonSettings) -> int:
    """Hunt: every (rule, record) match as a JSON line."""
    compiled = compiled_rules(args.rules, args.fields, settings)
    if compiled.skipped:
        print(f"secmon: {len(compiled.skipped)} rules skipped (see `secmon sigma check`)", file=sys.stderr)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        hunt = hunt_raw if args.fields == "raw" else hunt_ecs
        total = sum(_write(out, m) for path in args.paths for m in hunt(compiled, path, args.source, settings))
    finally:
        if args.out:
            out.close()
    print(f"secmon: {total} matches", file=sys.stderr)
    return 0


def _write(out: IO[str], match: dict[str, Any]) -> int:
    out.write(json.dumps(match, sort_keys=True) + "\n")
    return 1


def _hit(rule, path: str, line: int, **extra: Any) -> dict[str, Any]:
    info = rule.info
    return {"rule_id": info.uuid, "title": info.title, "level": info.level, "file": path, "line": line, **extra}


def hunt_raw(compiled: Compiled, path: str, source: str | None, settings: SecmonSettings) -> Iterator[dict]:
    """Every rule against every line's own fields (lines that are no JSON object: keywords only)."""
    from pipeline.readers import iter_lines, open_binary

    index = RuleIndex(compiled.rules)
    with open_binary(path) as stream:
        for number, (_offset, data) in enumerate(iter_lines(stream, settings.parse.max_record_bytes), 1):
            if data.strip():
                view = RecordView.of_line(data.decode("utf-8", "replace"))
                yield from (_hit(rule, path, number) for rule in index.matching(view))


def hunt_ecs(compiled: Compiled, path: str, source: str | None, settings: SecmonSettings) -> Iterator[dict]:
    """Normalize each record, match its dataset's rules, and run the correlations on event time."""
    router = Router(compiled.rules)
    states: dict[tuple[str, str], Any] = {}
    for number, event in _events(path, source, settings):
        views, matched = router.result(event)
        for rule in compiled.rules:
            if rule.info.uuid in matched:
                yield _hit(rule, path, number, event_id=event.event.id, dataset=event.event.dataset)
        for corr in compiled.correlations:
            yield from _correlate(corr, states, views, matched, event, path, number)


def _correlate(corr: CompiledCorrelation, states: dict, views, matched, event, path: str, number: int):
    for ref, rule in enumerate(corr.rules):
        if rule.info.uuid not in matched:
            continue
        view = views[rule.raw]
        group = corr.group(ref, view)
        state, fired = observe(
            corr,
            states.get((corr.info.uuid, group)),
            event.timestamp.timestamp(),
            ref,
            corr.value(ref, view),
            event.event.id,
        )
        states[(corr.info.uuid, group)] = state
        if fired is not None:
            yield _hit(
                corr,
                path,
                number,
                correlation=corr.kind,
                group=group.split("\x1f"),
                figure=fired.figure,
                event_ids=list(fired.event_ids),
            )
        return  # an event counts once per correlation


def _events(path: str, source: str | None, settings: SecmonSettings):
    """(line number, event) for every event of the file, normalized without enrichment, raw record kept."""
    from pipeline.embedded import resolve_source
    from pipeline.normalizers.base import ParseOptions
    from pipeline.process import process_record
    from pipeline.readers import file_identity, open_binary, split_records, units
    from schemas.event import Origin

    normalizer = resolve_source(path, source)
    base = settings.parse.options()
    parse_options = ParseOptions(default_year=base.default_year, default_tz=base.default_tz, keep_original=True)
    file_id = file_identity(path)
    with open_binary(path) as stream:
        for number, unit in enumerate(units(stream, normalizer, settings.parse.max_record_bytes), 1):
            if unit.kind != "record":
                continue
            origin = Origin(source=normalizer.id, file=path, file_id=file_id, offset=unit.offset)
            for record in split_records(normalizer, unit.data, origin, unit.header, settings.parse.max_record_bytes):
                for event in process_record(
                    record, normalizer, [], parse_options, settings.parse.max_record_bytes
                ).events:
                    yield number, event
