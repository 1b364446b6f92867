"""`secmon dashboards import|export|write`: load the dashboards into Kibana, or save what Kibana holds."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pipeline.dashboards import ndjson, objects
from pipeline.settings import SecmonSettings


def register(sub: argparse._SubParsersAction) -> None:
    """Add `secmon dashboards ...`."""
    dash = sub.add_parser(
        "dashboards", help="import secmon's Kibana dashboards, data views and searches, or export them"
    )
    dsub = dash.add_subparsers(title="dashboards commands")
    imp = dsub.add_parser("import", help="import (overwrite) every saved object; safe to re-run")
    imp.add_argument(
        "--kibana-url",
        help="Kibana base URL (default: kibana.url); the API key comes from "
        "SECMON_KIBANA_API_KEY or the secrets file secmon_kibana, never from the command line",
    )
    imp.add_argument("--file", type=Path, help="import this NDJSON instead of the objects for es.index_prefix")
    imp.set_defaults(func=cmd_import)
    exp = dsub.add_parser("export", help="export secmon's dashboards and what they reference from Kibana as NDJSON")
    exp.add_argument("--kibana-url", help="Kibana base URL (default: kibana.url)")
    exp.add_argument("--out", type=Path, help="write here (default: stdout)")
    exp.set_defaults(func=cmd_export)


def _settings(args: argparse.Namespace, settings: SecmonSettings):
    cfg = settings.kibana.model_copy()
    if args.kibana_url:
        cfg.url = args.kibana_url
    return cfg


def cmd_import(args: argparse.Namespace, settings: SecmonSettings) -> int:
    """Import; exit 1 and list every refused object when Kibana refused some."""
    from pipeline.dashboards import kibana  # here: its HTTP client (aiohttp) is an import `secmon run` can skip

    if args.file:
        body = args.file.read_text(encoding="utf-8")
    else:
        body = ndjson(objects(settings.es.index_prefix))
    total = sum(1 for line in body.splitlines() if line.strip())
    result = asyncio.run(kibana.import_ndjson(_settings(args, settings), body))
    for line in result.errors:
        print(f"secmon: not imported: {line}", file=sys.stderr)
    print(f"secmon: imported {result.success_count} of {total} saved objects into Kibana", file=sys.stderr)
    return 1 if result.errors else 0


def cmd_export(args: argparse.Namespace, settings: SecmonSettings) -> int:
    """Export the dashboards (with their panels, data views and searches) as NDJSON."""
    from pipeline.dashboards import kibana

    wanted = [
        {"type": o["type"], "id": o["id"]}
        for o in objects(settings.es.index_prefix)
        if o["type"] in ("dashboard", "search")
    ]
    text = asyncio.run(kibana.export_ndjson(_settings(args, settings), wanted))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    print(f"secmon: exported {len(text.splitlines())} saved objects", file=sys.stderr)
    return 0
