"""Where `secmon run` spends its time: cProfile over the embedded runner, top functions printed.

    python -m bench.profile FILE [FILE ...] [--source app_signin] [--top 30] [--out prof.pstats]

Runs the same code as `secmon run` (default settings, every detector enabled) under cProfile and
prints the functions with the most cumulative time, then those with the most own (total) time.
`python -m bench.signin_month --out DIR` (or `python -m bench.scale --write-month month.jsonl`) writes
a realistic month of sign-ins to profile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys

from pipeline import embedded
from pipeline.settings import SecmonSettings


def settings_without(prefixes: str) -> SecmonSettings:
    """Default settings with the detectors whose id starts with one of `prefixes` disabled."""
    from detectors.registry import DETECTORS

    wanted = tuple(p for p in prefixes.split(",") if p)
    off = {det_id: {"enabled": False} for det_id in DETECTORS if wanted and det_id.startswith(wanted)}
    return SecmonSettings(detection={"detectors": off})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="log files, as for secmon run")
    parser.add_argument("--source", help="log format when it cannot be inferred")
    parser.add_argument("--top", type=int, default=30, help="functions listed per table")
    parser.add_argument("--out", help="also save the raw profile here (pstats format, e.g. for snakeviz)")
    parser.add_argument("--disable", default="", help="detectors to leave out: comma list of id prefixes (anomaly_)")
    args = parser.parse_args(argv)
    settings = settings_without(args.disable)
    profiler = cProfile.Profile()
    profiler.enable()
    summary = embedded.run(args.paths, settings, source=args.source)
    profiler.disable()
    print(summary.render().splitlines()[0], "(under cProfile)")
    if args.out:
        profiler.dump_stats(args.out)
    for order, title in (("cumulative", "cumulative time"), ("tottime", "own (total) time")):
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(args.top)
        body = text.getvalue()
        start = body.find("   ncalls")
        print(f"\n== top {args.top} by {title}\n{body[start:].rstrip()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
