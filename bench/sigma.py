"""Sigma matching throughput, ours against the pySigma SQLite reference, on the same events, one core.

    python -m bench.sigma [--copies 20]

Events: the Invictus CloudTrail sample (../shared/data, 280 records) repeated `--copies` times.
Rules: every SigmaHQ rule of ../shared/data that loads (488). Three figures, side by side:
- secmon raw hunt: each record parsed, flattened and matched against all 488 rules through the
  literal index (what `secmon sigma match --fields raw` does);
- the reference: the same records flattened into a SQLite table (load time counted) and the 488
  queries pysigma-backend-sqlite makes of the rules run over it;
- secmon stream: normalized events through the engine with the Sigma detectors enabled (the 57
  rules mapped to aws.cloudtrail; normalization is not timed), as `secmon run` and the worker do.
CPU time (time.process_time) of this single-threaded process; the matches must agree.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import timedelta
from pathlib import Path

from detectors.engine import Engine
from detectors.sigma.compiled import compile_rules
from detectors.sigma.config import SigmaSettings
from detectors.sigma.index import RuleIndex
from detectors.sigma.loader import load
from detectors.sigma.stream import build
from detectors.sigma.view import RecordView
from detectors.state import DictStore
from pipeline.settings import SecmonSettings
from pipeline.sigma_cli import _events
from tests.unit.detectors.sigma.reference import Reference, load_fresh, queries

SHARED = Path(__file__).parents[2] / "shared" / "data"
RULES = SHARED / "sigmahq_rules" / "rules"
SAMPLE = SHARED / "invictus_cloudtrail" / "invictus_aws_dataset_subset.ndjson"


def ours(lines: list[str]) -> tuple[float, int, float]:
    """(seconds, matches, candidate rules per event) of the raw hunt with every rule."""
    index = RuleIndex(compile_rules(load([RULES]), "raw").rules)
    matches = candidates = 0
    started = time.process_time()
    for line in lines:
        view = RecordView.of_line(line)
        found = index.candidates(view)
        candidates += len(found)
        matches += sum(1 for rule in found if rule.matches(view))
    return time.process_time() - started, matches, candidates / len(lines)


def reference(lines: list[str]) -> tuple[float, float, int]:
    """(seconds to load the table, seconds to run the queries, matches) of the SQLite reference."""
    sql = [q for rule in load_fresh([RULES]) for q in queries(rule, "raw")]
    started = time.process_time()
    views = [RecordView.of_line(line) for line in lines]
    table = Reference([(v.fields, v.keywords()) for v in views])
    loaded = time.process_time()
    for q in sql[:1]:
        table.matches(q)  # adds the columns rules name that no record has, before timing the queries
    for q in sql:
        table.matches(q)
    warm = time.process_time()
    matches = sum(len(table.matches(q)) for q in sql)
    return loaded - started, time.process_time() - warm, matches


def stream(copies: int) -> tuple[float, int, int]:
    """(seconds, events, alerts updated) of the engine with the Sigma detectors over normalized events."""
    events = [e for _ in range(copies) for _, e in _events(str(SAMPLE), "cloudtrail", SecmonSettings())]
    detectors = build(SigmaSettings(rules_dirs=[RULES]), keep_original=True)
    engine = Engine(detectors=detectors, store=DictStore(), lateness=timedelta(days=3650))
    started = time.process_time()
    alerts = sum(len(engine.process(event)) for event in events)
    return time.process_time() - started, len(events), alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20, help="times the 280-record sample is repeated")
    args = parser.parse_args()
    logging.getLogger("detectors.sigma").setLevel(logging.ERROR)  # the skipped rules: `secmon sigma check`
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()] * args.copies
    n = len(lines)
    seconds, matched, per_event = ours(lines)
    load_s, query_s, ref_matched = reference(lines)
    stream_s, events, alerts = stream(args.copies)
    print(f"sigma bench: {n:,} CloudTrail records (Invictus sample x{args.copies}), 488 SigmaHQ rules, one core")
    print(f"  {'':<44} {'events/s':>10} {'seconds':>8} {'matches':>8}")
    print(f"  {'secmon raw hunt (488 rules, literal index)':<44} {n / seconds:>10,.0f} {seconds:>8.2f} {matched:>8,}")
    print(
        f"  {'SQLite reference: load + 488 queries':<44} {n / (load_s + query_s):>10,.0f} "
        f"{load_s + query_s:>8.2f} {ref_matched:>8,}"
    )
    print(f"  {'  of which the queries alone':<44} {n / query_s:>10,.0f} {query_s:>8.2f}")
    print(
        f"  {'secmon stream (engine, 57 CloudTrail rules)':<44} {events / stream_s:>10,.0f} {stream_s:>8.2f} "
        f"{alerts:>8,} alert updates"
    )
    print(
        f"  rules tested per record after the index: {per_event:.1f} of 488; matches agree: "
        f"{'yes' if matched == ref_matched else 'NO'}"
    )


if __name__ == "__main__":
    main()
