"""What the TLS detectors share: the server a handshake names, cipher and version verdicts, reporting.

A server is `destination.ip` + `destination.port` (web logs in our `secmon_tls` format, Zeek
ssl.log); events without both are skipped. Web logs record what the server negotiated; Zeek's
`version` and `cipher` come from the server's hello, so a failed handshake still shows what the
server offered. One alert per server:port and dedup period: a weak value is reported when first
seen, then again once per `report_every`, so thousands of weak requests stay one quiet alert.
"""

from __future__ import annotations

import re
from functools import lru_cache

from detectors.base import Entity, Finding, State
from schemas.alert import Severity
from schemas.event import Endpoint, Event

MAX_VALUES = 32  # distinct weak versions/ciphers remembered per server
_TOKENS = re.compile(r"[-_ ]+")
# cipher weakness -> predicate over the cipher name's upper-case tokens (IANA, OpenSSL and SSLv2 names)
CIPHER_CHECKS = {
    "export": lambda t: any(x.startswith("EXP") for x in t),
    "rc4": lambda t: "RC4" in t,
    "rc2": lambda t: "RC2" in t,
    "des": lambda t: bool({"DES", "3DES", "DES40", "CBC3"} & t),
    "null_cipher": lambda t: "NULL" in t,  # not "null": YAML would read that as None
    "anonymous": lambda t: bool({"ANON", "ADH", "AECDH", "ANULL"} & t),
    "md5": lambda t: "MD5" in t,
}
# DTLS versions and the TLS versions they are built on
DTLS_AS_TLS = {"1.0": "1.1", "1.2": "1.2", "1.3": "1.3"}


def server_key(event: Event) -> str | None:
    """`<ip>|<port>` of the server of a handshake that names a version or a cipher."""
    dst, tls = event.destination, event.tls
    if dst is None or dst.ip is None or dst.port is None or tls is None or not (tls.version or tls.cipher):
        return None
    return f"{dst.ip}|{dst.port}"


def cipher_weaknesses(cipher: str, checked: list[str]) -> list[str]:
    """Which of the `checked` weaknesses a negotiated cipher suite has."""
    found = _weaknesses(cipher)
    return [name for name in checked if name in found]


@lru_cache(maxsize=1024)  # a fleet negotiates a few dozen distinct suites
def _weaknesses(cipher: str) -> frozenset[str]:
    tokens = set(_TOKENS.split(cipher.upper()))
    return frozenset(name for name, weak in CIPHER_CHECKS.items() if weak(tokens))


def weak_version(protocol: str | None, version: str | None, minimum: str) -> str | None:
    """`SSL 3.0`, `TLS 1.0`, `DTLS 1.0`... when below `minimum` (a TLS version), else None."""
    if not version or protocol not in ("ssl", "tls", "dtls"):
        return None
    as_tls = DTLS_AS_TLS.get(version, version) if protocol == "dtls" else version
    if protocol == "ssl" or _number(as_tls) < _number(minimum):
        return f"{protocol.upper()} {version}"
    return None


def _number(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (99,)  # an unknown notation is not called weak


def due(state: State | None, value: str, ts: float, every_s: float) -> tuple[State, bool]:
    """(state, whether `value` must be reported now): new for the server, or last reported long ago."""
    seen = dict((state or {}).get("seen", {}))
    last = seen.get(value)
    report = last is None or ts - last >= every_s
    if report:
        seen[value] = ts
        seen = dict(sorted(seen.items(), key=lambda item: item[1])[-MAX_VALUES:])
    return {"seen": seen}, report


def server_finding(event: Event, what: str, severity: Severity | None = None) -> Finding:
    """A finding naming the server (destination ip/port) and the client that showed it."""
    dst = event.destination
    name = f" ({dst.domain})" if dst.domain else ""
    client = event.source.ip if event.source and event.source.ip else "unknown"
    message = f"{dst.ip}:{dst.port}{name} {what} (with client {client}, seen in {event.event.dataset})"
    return Finding(
        message=message,
        entity=Entity(destination=Endpoint(ip=dst.ip, port=dst.port)),
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
        severity=severity,
    )
