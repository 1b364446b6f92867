"""`secmon lifecycle run`, `secmon backup run|list|verify|prune`, `secmon hold open|close|list`, `secmon purge`.

Destructive commands print their plan first, ask for confirmation on a terminal (`--yes` skips
the question; without a terminal they go ahead, as a cron job must) and accept `--dry-run`
(print the plan, change nothing). Every command is safe to re-run after a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from pipeline.lifecycle import LifecycleError, Names, iso, utcnow
from pipeline.settings import SecmonSettings

if TYPE_CHECKING:  # the Elasticsearch and Kafka clients load only when a lifecycle command runs
    pass


def register(sub: argparse._SubParsersAction) -> None:
    """Add the lifecycle, backup, hold and purge commands to the `secmon` parser."""
    lifecycle = sub.add_parser("lifecycle", help="data retention").add_subparsers(title="lifecycle commands")
    _destructive(
        lifecycle.add_parser("run", help="delete daily indices past their retention, except held ones"), _cmd_retention
    )

    backup = sub.add_parser("backup", help="snapshots: run, list, verify, prune").add_subparsers(
        title="backup commands"
    )
    _common(backup.add_parser("run", help="snapshot every secmon index (emits backup control events)"), _cmd_backup)
    _common(backup.add_parser("list", help="secmon's snapshots, their age and the holds keeping them"), _cmd_list)
    verify = backup.add_parser("verify", help="restore the latest snapshot under a temporary name and compare")
    verify.add_argument("--sample", type=int, default=None, help="documents to compare by checksum")
    _common(verify, _cmd_verify)
    _destructive(backup.add_parser("prune", help="delete snapshots past retention, except held ones"), _cmd_prune)

    hold = sub.add_parser("hold", help="legal holds: open, close, list").add_subparsers(title="hold commands")
    hopen = hold.add_parser("open", help="keep the indices and snapshots an incident needs")
    hopen.add_argument("--incident", required=True, help="incident id (also the hold id)")
    hopen.add_argument("--reason", required=True, help="why the data must be kept")
    hopen.add_argument(
        "--index",
        action="append",
        dest="patterns",
        help="index pattern covered (repeatable; default: every index of this deployment)",
    )
    _common(hopen, _cmd_hold_open)
    hclose = hold.add_parser("close", help="release a hold: retention and prune apply again")
    hclose.add_argument("--incident", required=True, help="incident id of the hold")
    hclose.add_argument("--reason", default="", help="why it is released")
    _destructive(hclose, _cmd_hold_close)
    hlist = hold.add_parser("list", help="open holds (--all: closed ones too)")
    hlist.add_argument("--all", action="store_true", help="include closed holds")
    _common(hlist, _cmd_hold_list)

    purge = sub.add_parser("purge", help="delete every document of a workspace, with a deletion receipt")
    purge.add_argument("--workspace", required=True, help="organization.id of the workspace")
    purge.add_argument("--request-id", help="the owner's deletion request id (default: resume the open one, or new)")
    purge.add_argument("--requested-at", type=_instant, help="when the owner asked, ISO 8601 (default: now)")
    _destructive(purge, _cmd_purge)


def _common(parser: argparse.ArgumentParser, func) -> None:
    parser.add_argument("--operator", help="who runs this, for the audit trail (default: login name)")
    parser.add_argument("--dry-run", action="store_true", help="print what would happen, change nothing")
    parser.set_defaults(func=func)


def _destructive(parser: argparse.ArgumentParser, func) -> None:
    _common(parser, func)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no timezone; write e.g. 2026-11-30T08:00:00Z")
    return value.astimezone(timezone.utc)


def _run(coro) -> int:
    from elasticsearch import ApiError, ConnectionError, ConnectionTimeout, TransportError

    try:
        return asyncio.run(coro)
    except (ConnectionError, ConnectionTimeout):
        raise  # unreachable: the CLI's error boundary names the address and how to start the services
    except LifecycleError as exc:
        print(f"secmon: {exc}", file=sys.stderr)
        return 2
    except (ApiError, TransportError) as exc:
        print(
            f"secmon: Elasticsearch refused or did not answer: {exc}. Check es.url, credentials and "
            "cluster health (GET _cluster/health); every lifecycle command can be re-run.",
            file=sys.stderr,
        )
        return 2


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """Ask on a terminal unless --yes; without a terminal (cron) go ahead."""
    if args.yes or not sys.stdin.isatty():
        return True
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _progress(label: str):
    """A progress bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        filled = int(30 * done / total) if total else 30
        print(f"\r{label} [{'#' * filled:<30}] {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    return show


def _cmd_retention(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.retention import run_retention

    async def go() -> int:
        now = utcnow()
        async with session(settings, args.operator) as rec:
            plan = (await run_retention(rec, settings.lifecycle, now=now, dry_run=True)).plans
            for p in plan:
                if p.action != "keep":
                    held = f" (legal hold {', '.join(p.holds)})" if p.holds else ""
                    print(f"{p.action:<7} {p.index}  expired {iso(p.expires)}{held}")
            todo = sum(p.action == "delete" for p in plan)
            print(
                f"{len(plan)} daily indices: {todo} to delete, {sum(p.action == 'hold' for p in plan)} held, "
                f"{sum(p.action == 'keep' for p in plan)} within retention"
            )
            if args.dry_run or not todo or not _confirm(args, f"delete {todo} indices?"):
                return 0 if args.dry_run or not todo else 1
            result = await run_retention(rec, settings.lifecycle, now=now)
            for index, reason in result.failed.items():
                print(f"FAILED {index}: {reason}", file=sys.stderr)
            print(f"deleted {len(result.deleted)} indices")
            return 1 if result.failed else 0

    return _run(go())


def _cmd_backup(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.snapshots import run_backup

    async def go() -> int:
        async with session(settings, args.operator) as rec:
            if not args.dry_run:
                print("snapshotting...", file=sys.stderr)
            r = await run_backup(rec, settings.lifecycle, now=utcnow(), dry_run=args.dry_run)
            verb = "would take" if args.dry_run else ("succeeded:" if r.ok else "FAILED:")
            print(
                f"backup {verb} {r.snapshot} ({r.indices} indices, {r.documents:,} documents)"
                + (" [resumed a running snapshot]" if r.resumed else "")
                + (f": {r.reason}" if r.reason else "")
            )
            return 0 if r.ok else 1

    return _run(go())


def _cmd_list(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.holds import load_holds
    from pipeline.lifecycle.prune import prune_plan
    from pipeline.lifecycle.snapshots import list_snapshots

    async def go() -> int:
        now, lc = utcnow(), settings.lifecycle
        async with session(settings, args.operator) as rec:
            snaps = await list_snapshots(rec.es, lc, rec.names)
            plan = prune_plan(snaps, await load_holds(rec.es, rec.names), now, lc.snapshot_retention_days)
        print(f"{'snapshot':<36} {'state':<11} {'taken':<25} {'age':>6} {'indices':>7}  prune")
        for d in plan:
            s = d.snapshot
            age = f"{(now - s.taken_at).total_seconds() / 86400:.1f}d"
            note = {"keep": "-", "delete": "due", "hold": f"held by {', '.join(d.holds)}"}[d.action]
            print(f"{s.name:<36} {s.state:<11} {iso(s.taken_at):<25} {age:>6} {len(s.indices):>7}  {note}")
        return 0

    return _run(go())


def _cmd_verify(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.restore_test import verify

    async def go() -> int:
        async with session(settings, args.operator) as rec:
            r = await verify(rec, settings.lifecycle, now=utcnow(), sample=args.sample, dry_run=args.dry_run)
        if args.dry_run:
            print(f"would restore {r.snapshot} under {Names.of(settings).restore_prefix}* and compare")
            return 0
        for c in r.indices:
            flag = "ok " if c.ok else "BAD"
            print(
                f"{flag} {c.index}: restored {c.restored:,}, live {'-' if c.live is None else f'{c.live:,}'}"
                f"{'' if c.unchanged else ' (written since backup)'}"
            )
        print(
            f"restore test {'succeeded' if r.ok else 'FAILED'} for {r.snapshot}: sample {r.sampled}: "
            f"{r.matched} identical, {r.changed} changed since, {r.missing} deleted since, "
            f"{len(r.mismatched)} different" + (f"; {r.reason}" if r.reason else "")
        )
        return 0 if r.ok else 1

    return _run(go())


def _cmd_prune(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.prune import prune

    async def go() -> int:
        now, lc = utcnow(), settings.lifecycle
        async with session(settings, args.operator) as rec:
            plan = await prune(rec, lc, now=now, dry_run=True)
            for d in plan:
                if d.action != "keep":
                    held = f" (legal hold {', '.join(d.holds)})" if d.holds else ""
                    print(f"{d.action:<7} {d.snapshot.name}  taken {iso(d.snapshot.taken_at)}{held}")
            todo = sum(d.action == "delete" for d in plan)
            print(
                f"{len(plan)} snapshots: {todo} older than {lc.snapshot_retention_days} days to delete, "
                f"{sum(d.action == 'hold' for d in plan)} held"
            )
            if args.dry_run or not todo or not _confirm(args, f"delete {todo} snapshots?"):
                return 0 if args.dry_run or not todo else 1
            done = await prune(rec, lc, now=now)
            print(f"deleted {sum(d.action == 'delete' for d in done)} snapshots")
            return 0

    return _run(go())


def _cmd_hold_open(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.holds import open_hold

    async def go() -> int:
        async with session(settings, args.operator) as rec:
            hold, changed = await open_hold(
                rec,
                incident_id=args.incident,
                reason=args.reason,
                patterns=args.patterns,
                now=utcnow(),
                dry_run=args.dry_run,
            )
        state = "would open" if args.dry_run and changed else ("opened" if changed else "already open")
        print(f"legal hold {hold.hold_id} {state}: covers {', '.join(hold.indices)}")
        return 0

    return _run(go())


def _cmd_hold_close(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.holds import close_hold, get_hold

    async def go() -> int:
        async with session(settings, args.operator) as rec:
            current = await get_hold(rec.es, rec.names, args.incident)
            if (
                current is not None
                and current.status == "open"
                and not args.dry_run
                and not _confirm(
                    args, f"close legal hold {args.incident}? Its indices and snapshots may then be deleted"
                )
            ):
                return 1
            hold, changed = await close_hold(
                rec, incident_id=args.incident, reason=args.reason, now=utcnow(), dry_run=args.dry_run
            )
        state = "would close" if args.dry_run and changed else ("closed" if changed else "already closed")
        print(f"legal hold {hold.hold_id} {state}")
        return 0

    return _run(go())


def _cmd_hold_list(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.holds import load_holds

    async def go() -> int:
        async with session(settings, args.operator) as rec:
            holds = await load_holds(rec.es, rec.names, open_only=not args.all)
        for h in holds:
            closed = f", closed {iso(h.closed_at)} by {h.closed_by}" if h.closed_at else ""
            print(
                f"{h.hold_id:<24} {h.status:<6} opened {iso(h.opened_at)} by {h.opened_by}{closed}: "
                f"{h.reason} [{', '.join(h.indices)}]"
            )
        print(f"{len(holds)} {'holds' if args.all else 'open holds'}")
        return 0

    return _run(go())


def _cmd_purge(args: argparse.Namespace, settings: SecmonSettings) -> int:
    from pipeline.lifecycle.audit import session
    from pipeline.lifecycle.forget import forget_workspace
    from pipeline.lifecycle.purge import purge_workspace

    async def go() -> int:
        now, ws = utcnow(), args.workspace
        kwargs = dict(now=now, request_id=args.request_id, requested_at=args.requested_at)
        async with session(settings, args.operator) as rec:
            plan = await purge_workspace(rec, settings.lifecycle, settings.es, ws, dry_run=True, **kwargs)
            for index, n in sorted(plan.planned.items()):
                print(f"{n:>10,}  {index}")
            total = sum(plan.planned.values())
            if plan.noop:
                late = f"; {total:,} documents arrived since: purge again with a new --request-id" if total else ""
                print(
                    f"workspace {ws}: {'request done' if total else 'nothing left'}; receipt "
                    f"{plan.receipt.receipt_id} completed {iso(plan.receipt.completed_at or now)}{late}"
                )
                return 0
            print(
                f"workspace {ws}: {total:,} documents in {len(plan.planned)} indices "
                f"(receipt {plan.receipt.receipt_id})"
            )
            if args.dry_run or not _confirm(args, f"delete {total:,} documents of workspace {ws}?"):
                return 0 if args.dry_run else 1
            forget = None
            if settings.lifecycle.emit_to_kafka:  # the workers' state and context rows: see lifecycle/forget.py

                async def forget(state, receipt_id):
                    return await forget_workspace(settings, state, receipt_id, now)

            r = await purge_workspace(
                rec, settings.lifecycle, settings.es, ws, progress=_progress("purging"), before_delete=forget, **kwargs
            )
        print(("\n" if sys.stderr.isatty() else "") + _receipt_text(r.receipt))
        return 0 if r.receipt.status == "completed" else 1

    return _run(go())


def _receipt_text(receipt) -> str:
    snaps = (
        f"; {len(receipt.snapshots_with_data)} older snapshots hold the data until "
        + (
            f"legal hold {', '.join(receipt.snapshots_held)} is closed"
            if receipt.snapshots_held
            else iso(receipt.snapshots_expire_by)
        )
        if receipt.snapshots_with_data
        else ""
    )
    forgot = (
        f"; workers asked to forget {receipt.state_alerts:,} alerts and {receipt.state_users:,} users' state, "
        f"{receipt.context_rows} context rows tombstoned"
        if receipt.forget_parts
        else "; workers NOT asked to forget its state (lifecycle.emit_to_kafka is off)"
    )
    files = (
        f"; {receipt.context_file_rows} rows of it remain in context files: remove them there"
        if receipt.context_file_rows
        else ""
    )
    return (
        f"receipt {receipt.receipt_id}: {receipt.status}, {receipt.documents:,} documents deleted from "
        f"{len(receipt.indices)} indices, requested {iso(receipt.requested_at)}, completed "
        f"{iso(receipt.completed_at) if receipt.completed_at else '-'}{snaps}{forgot}{files}"
    )
