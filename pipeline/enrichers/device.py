"""User agent -> `user_agent.*` and a device type (desktop, mobile, tablet, bot, cli, unknown)."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version

import ua_parser
from ua_parser import parse

from pipeline.enrichers.base import Enricher
from schemas.event import Device, DeviceType, Event, UserAgent

CLI_CLIENTS = frozenset(
    {
        "curl",
        "wget",
        "python requests",
        "python-urllib",
        "go-http-client",
        "okhttp",
        "aws-cli",
        "aws-sdk-go",
        "boto3",
        "botocore",
        "libwww-perl",
        "httpie",
        "powershell",
        "java",
        "apache-httpclient",
    }
)
DESKTOP_OS = frozenset({"windows", "mac os x", "linux", "ubuntu", "chrome os", "fedora", "debian", "freebsd", "macos"})
MOBILE_OS = frozenset({"ios", "android", "windows phone", "blackberry os"})
BOT_WORDS = ("bot", "crawler", "spider", "slurp", "scanner")


@lru_cache(maxsize=16384)
def classify(ua: str) -> tuple[DeviceType, str | None, str | None, str | None, str | None, str | None]:
    """(device type, client name, client version, os name, os version, device name) of a UA string."""
    result = parse(ua)
    client = result.user_agent
    os_ = result.os
    dev = result.device
    name = client.family if client else None
    kind = _device_type(ua.lower(), (name or "").lower(), (os_.family if os_ else "").lower(), dev)
    return (
        kind,
        name,
        client.major if client else None,
        os_.family if os_ else None,
        os_.major if os_ else None,
        dev.family if dev and dev.family not in ("Other", "Spider") else None,
    )


def _device_type(ua: str, client: str, os_family: str, dev) -> DeviceType:
    if (dev and dev.family == "Spider") or any(word in client for word in BOT_WORDS):
        return "bot"
    if client in CLI_CLIENTS or (not ua.startswith("mozilla/") and client.startswith(tuple(CLI_CLIENTS))):
        return "cli"
    if dev and ("tablet" in (dev.brand or "").lower() or dev.family in ("iPad", "Kindle")):
        return "tablet"
    if os_family == "android" and " mobile" not in ua:
        return "tablet"
    if os_family in MOBILE_OS:
        return "mobile"
    if os_family in DESKTOP_OS:
        return "desktop"
    if any(word in ua for word in BOT_WORDS):
        return "bot"
    return "unknown"


def apply(event: Event) -> None:
    """Fill `user_agent.*` and `secmon.device.type` from `user_agent.original`.

    The parser copies pieces of the header (a device model, a client name) that can be longer than a
    keyword may be: `pipeline.process` cuts them at the bound and names them in `secmon.truncated`."""
    ua = event.user_agent
    if ua is None or not ua.original:
        return
    kind, name, ver, os_name, os_ver, dev_name = classify(ua.original)
    # one validation of plain data rather than one per nested model
    event.user_agent = UserAgent.model_validate(
        {
            "original": ua.original,
            "name": name,
            "version": ver,
            "os": {"name": os_name, "version": os_ver} if os_name else None,
            "device": {"name": dev_name} if dev_name else None,
        }
    )
    event.secmon.device = Device(type=kind)


def load_parser() -> None:
    """Load ua-parser's rules now (~0.4 s) rather than on the first event, which would wait for them."""
    _ = ua_parser.parser  # the documented way to initialise its lazy global parser eagerly


ENRICHER = Enricher(name="device", version=f"uap-{version('ua-parser-builtins')}", apply=apply)
