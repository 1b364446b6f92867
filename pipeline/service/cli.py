"""`secmon serve`: run the access-log service on uvicorn."""

from __future__ import annotations

import argparse
import signal

from pipeline.failures import EXIT_TERMINATED
from pipeline.settings import SecmonSettings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` command to secmon's parser."""
    cmd = sub.add_parser(
        "serve",
        help="the access-log HTTP service for users and workspace admins "
        "(settings service.*: token keys, issuer, audience)",
    )
    cmd.add_argument("--host", help="listen address (default: service.host)")
    cmd.add_argument("--port", type=int, help="listen port (default: service.port)")
    cmd.set_defaults(func=_cmd_serve)
    act = sub.add_parser(
        "actions",
        help="carry out response actions (sign out all devices) requested through "
        "`secmon serve`: calls service.revoke_url, signed, with retries",
    )
    act.set_defaults(func=_cmd_actions)


def _cmd_serve(args: argparse.Namespace, settings: SecmonSettings) -> int:
    import uvicorn

    from pipeline.service.app import build_app
    from pipeline.service.auth import Verifier

    cfg = settings.service
    verifier = Verifier(cfg)  # before uvicorn starts: missing or bad token keys are one line, not a traceback
    uvicorn.run(
        build_app(settings, verifier),
        host=args.host or cfg.host,
        port=args.port or cfg.port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
    )
    return 0


def _cmd_actions(args: argparse.Namespace, settings: SecmonSettings) -> int:
    import asyncio

    from pipeline.service.actions import run

    async def until_sigterm() -> None:  # SIGTERM cancels the loop like Ctrl-C: the finally blocks stop the clients
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await run(settings)

    try:
        asyncio.run(until_sigterm())
    except asyncio.CancelledError:
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        pass
    return 0
