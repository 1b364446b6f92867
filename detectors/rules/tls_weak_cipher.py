"""A server negotiates a broken cipher suite: export-grade, RC4, (3)DES, NULL, anonymous, MD5."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._clock import Duration
from detectors.rules._tls import cipher_weaknesses, due, server_finding, server_key
from schemas.event import Event

Weakness = Literal["export", "rc4", "rc2", "des", "null_cipher", "anonymous", "md5"]

META = DetectorMeta(
    id="tls_weak_cipher",
    title="Server accepts a weak TLS cipher suite",
    description="A handshake with a server (web access logs in the secmon_tls format, Zeek ssl.log) negotiated a "
    "cipher suite that is export-grade, RC4, RC2, DES or 3DES (Sweet32), NULL (no encryption), "
    "anonymous (no authentication: ADH/AECDH/anon) or MD5-based. IANA and OpenSSL names are both "
    "read. One alert per server:port; each weak suite is reported when first seen, then once per "
    "`report_every`.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("web.access", "zeek.ssl"),
    state=StateSpec(kind="last_seen", key=("destination.ip", "destination.port")),
    tags=("policy.tls", "attack.t1557"),
    dedup_period=timedelta(days=7),
)


class Params(BaseModel):
    """Which weaknesses count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weak: list[Weakness] = Field(
        ["export", "rc4", "rc2", "des", "null_cipher", "anonymous", "md5"], description="Weaknesses that alert."
    )
    report_every: Duration = Field(
        timedelta(days=7), description="A weak suite still in use is reported again after this long."
    )


def step(state, event: Event, params: Params):
    """One finding per weak cipher suite newly seen on the server (or not reported for `report_every`)."""
    cipher = event.tls.cipher
    found = cipher_weaknesses(cipher, list(params.weak)) if cipher else []
    if not found or cipher is None:
        return state, []
    state, report = due(state, cipher, event.timestamp.timestamp(), params.report_every.total_seconds())
    return state, [server_finding(event, f"accepts cipher suite {cipher} ({', '.join(found)})")] if report else []


DETECTOR = Detector(
    meta=META, params=Params, step=step, key=server_key, ttl=lambda params: params.report_every.total_seconds()
)
