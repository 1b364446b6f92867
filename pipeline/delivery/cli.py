"""`secmon routes test|show` and `secmon silence add|list|expire`.

secmon routes test --routes examples/routes.yaml severity=high rule=ssh_root_login   # -> receivers
secmon routes test --routes examples/routes.yaml --expect security-webhook severity=critical rule=x
secmon silence add 'rule=signin_new_device' 'workspace=ws-acme' --duration 2h --comment "CHG-1234"
secmon silence list [--all]
secmon silence expire <id>
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipeline.settings import SecmonSettings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `routes` and `silence` commands to secmon's parser."""
    routes = sub.add_parser("routes", help="test the alert routing tree")
    rsub = routes.add_subparsers(title="routes commands")
    test = rsub.add_parser("test", help="print the receivers an alert with these labels goes to")
    test.add_argument("labels", nargs="*", help="label=value (rule, severity, maturity, tags, workspace, team, entity)")
    test.add_argument("--routes", type=Path, help="routes file (default: delivery.routes_file)")
    test.add_argument("--expect", help="comma-separated receivers; exit 1 if the result differs")
    test.add_argument("-v", "--verbose", action="store_true", help="also print route, grouping and timing")
    test.set_defaults(func=_cmd_routes_test)
    show = rsub.add_parser("show", help="print the resolved routing tree")
    show.add_argument("--routes", type=Path, help="routes file (default: delivery.routes_file)")
    show.set_defaults(func=_cmd_routes_show)

    silence = sub.add_parser("silence", help="mute alerts matching labels for a while (stored in Elasticsearch)")
    ssub = silence.add_subparsers(title="silence commands")
    add = ssub.add_parser("add", help="create a silence; prints its id")
    add.add_argument("matchers", nargs="+", help='matchers: rule=x, severity=~"low|medium", workspace!=ws-1')
    add.add_argument("--comment", required=True, help="why (ticket, maintenance window)")
    add.add_argument("--author", default=None, help="who (default: the OS user)")
    add.add_argument("--start", help="ISO 8601 start (default: now)")
    end = add.add_mutually_exclusive_group()
    end.add_argument("--duration", default="1h", help="length, e.g. 30m, 2h, 1d (default 1h)")
    end.add_argument("--end", help="ISO 8601 end")
    add.set_defaults(func=_cmd_silence_add)
    lst = ssub.add_parser("list", help="silences not yet ended (with --all: every one)")
    lst.add_argument("--all", action="store_true", help="include expired silences")
    lst.set_defaults(func=_cmd_silence_list)
    exp = ssub.add_parser("expire", help="end silences now")
    exp.add_argument("ids", nargs="+", help="silence ids")
    exp.set_defaults(func=_cmd_silence_expire)


def _tree(args: argparse.Namespace, settings: SecmonSettings):
    from pipeline.delivery.routing import load_routes

    settings.delivery.check()
    path = args.routes or settings.delivery.routes_file
    if path is None:
        raise ValueError("no routes file: pass --routes FILE or set delivery.routes_file")
    receivers: Mapping[str, Any] = settings.delivery.receivers  # kind and pages of each (below: names only)
    if not receivers:  # testing a file without the secrets at hand: accept its names, kinds unknown
        import yaml

        with open(path, encoding="utf-8") as stream:  # a YAML error then names the file and line
            names = _receiver_names(yaml.safe_load(stream) or {})
        receivers = {n: SimpleNamespace(kind="webhook", pages=False) for n in names}
        print(
            "secmon: no delivery.receivers configured; receiver kinds (paging, PagerDuty grouping) unknown",
            file=sys.stderr,
        )
    return load_routes(Path(path), receivers)


def _receiver_names(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["receiver"]} if isinstance(node.get("receiver"), str) else set()
        return found.union(*(_receiver_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_receiver_names(v) for v in node))
    return set()


def _cmd_routes_test(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.delivery.routing import LABELS, parse_labels, team_of

    tree = _tree(args, settings)
    labels = {name: ("",) for name in LABELS} | parse_labels(args.labels)
    if labels["team"] == ("",):  # as for a real alert: derived from the rule and its tags
        labels["team"] = (team_of(tree.teams, labels["rule"][0], labels["tags"]),)
    receivers = []
    for route, blocked in tree.resolve(labels):
        if not blocked and route.receiver not in receivers:
            receivers.append(route.receiver)
        if args.verbose or blocked:
            t = route.timing
            note = "  SUPPRESSED: experimental detectors never page" if blocked else ""
            group_by = (
                "alert_id" if tree.receiver_kinds.get(route.receiver) == "pagerduty" else ",".join(route.group_by)
            )
            print(
                f"route {route.id:<8} receiver {route.receiver:<24} group_by [{group_by}] wait {t.wait:g}s "
                f"interval {t.interval:g}s repeat {t.repeat:g}s{note}",
                file=sys.stderr,
            )
    print(",".join(receivers))
    if args.expect is not None and sorted(args.expect.split(",")) != sorted(receivers):
        print(f"secmon: expected {args.expect}, got {','.join(receivers) or 'none'}", file=sys.stderr)
        return 1
    return 0


def _cmd_routes_show(args: argparse.Namespace, settings: SecmonSettings) -> int:
    tree = _tree(args, settings)

    def show(route, depth: int) -> None:
        matchers = " ".join(str(m) for m in route.matchers) or "(all)"
        cont = " continue" if route.cont else ""
        t = route.timing
        print(
            f"{'  ' * depth}{route.id}: {matchers} -> {route.receiver}{cont}  group_by [{','.join(route.group_by)}] "
            f"{t.wait:g}s/{t.interval:g}s/{t.repeat:g}s"
        )
        for child in route.children:
            show(child, depth + 1)

    show(tree.root, 0)
    return 0


def _run(settings: SecmonSettings, work):
    from pipeline.sinks.elasticsearch import client

    async def go():
        async with client(settings.es) as es:
            return await work(es, settings.es.index_prefix)

    return asyncio.run(go())


def _cmd_silence_add(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.delivery import silences
    from pipeline.delivery.routing import parse_duration

    start = _instant(args.start) if args.start else datetime.now(timezone.utc)
    end = _instant(args.end) if args.end else start + timedelta(seconds=parse_duration(args.duration))
    silence = silences.new_silence(args.matchers, start, end, args.author or getpass.getuser(), args.comment)
    _run(settings, lambda es, prefix: silences.add(es, prefix, silence))
    print(silence.id)
    return 0


def _cmd_silence_list(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.delivery import silences

    found = _run(settings, lambda es, prefix: silences.load(es, prefix, include_expired=args.all))
    now = datetime.now(timezone.utc).timestamp()
    print(f"{'id':<32}  {'state':<8} {'ends (UTC)':<20} {'author':<16} matchers  # comment")
    for s in found:
        print(
            f"{s.id:<32}  {s.state(now):<8} {s.ends_at:%Y-%m-%d %H:%M:%S} {s.created_by[:16]:<16} "
            f"{' '.join(s.matchers)}  # {s.comment}"
        )
    return 0


def _cmd_silence_expire(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.delivery import silences

    for silence_id in args.ids:
        expired = _run(settings, lambda es, prefix, sid=silence_id: silences.expire(es, prefix, sid))
        print(f"{expired.id} ends {expired.ends_at.isoformat()}")
    return 0


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone; write e.g. 2026-11-30T08:00:00Z")
    return value.astimezone(timezone.utc)
