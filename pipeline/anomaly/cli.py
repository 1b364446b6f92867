"""`secmon anomaly train|show`: build a model file from history, and say what one holds."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

from pipeline.cliargs import instant
from pipeline.settings import SecmonSettings


def register(sub) -> None:
    """Add the `anomaly` command group."""
    group = sub.add_parser("anomaly", help="train and inspect the behaviour models of the anomaly_* detectors")
    asub = group.add_subparsers(title="anomaly commands")
    train = asub.add_parser("train", help="train a model file from log files or from Elasticsearch history")
    train.add_argument("paths", nargs="*", help="log files in time order (plain or .gz)")
    train.add_argument("--source", help="log format when it cannot be inferred (see `secmon sources`)")
    train.add_argument("--from-es", action="store_true", help="read history from the event indices instead")
    train.add_argument("--days", type=int, help="with --from-es: days of history (default anomaly.history_days)")
    train.add_argument("--until", help="only events before this ISO time (files), or the end of history (--from-es)")
    train.add_argument("--out", type=Path, required=True, help="model file to write (atomically replaced)")
    train.set_defaults(func=_cmd_train)
    show = asub.add_parser("show", help="verify a model file and print its manifest")
    show.add_argument("model", type=Path)
    show.set_defaults(func=_cmd_show)


def _cmd_train(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from detectors.anomaly.artifact import save
    from pipeline.anomaly.training import train_es, train_files

    until = instant(args.until)
    if args.from_es == bool(args.paths):
        raise ValueError("give log files or --from-es (one of the two)")
    if args.from_es:
        from pipeline.sinks.elasticsearch import client

        async def go():
            async with client(settings.es) as es:
                return await train_es(es, settings, until or datetime.now(timezone.utc), args.days)

        bundle, skipped = asyncio.run(go())
    else:
        bundle, skipped = train_files(args.paths, settings, args.source, until)
    version = save(bundle, args.out, settings.anomaly.signing_key(create=True))
    for kind, model in sorted(bundle.items()):
        print(
            f"{kind}: {model.samples:,} scored events of {model.trained['entities']:,} entities "
            f"({model.trained['from']} .. {model.trained['until']})"
        )
    for line in skipped:
        print(f"not trained: {line}")
    print(f"wrote {args.out} (version {version}); use it with `secmon run --anomaly-model {args.out}` or anomaly.model")
    return 0


def _cmd_show(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from detectors.anomaly.artifact import read_manifest

    manifest, payload = read_manifest(args.model, settings.anomaly.signing_key())
    print(json.dumps({**manifest, "payload_bytes": len(payload)}, indent=2, sort_keys=True))
    return 0
