"""A server negotiates an obsolete protocol: SSLv2, SSLv3, TLS 1.0 or TLS 1.1 (RFC 8996)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, StateSpec
from detectors.rules._clock import Duration
from detectors.rules._tls import due, server_finding, server_key, weak_version
from schemas.alert import Severity
from schemas.event import Event

META = DetectorMeta(
    id="tls_weak_protocol",
    title="Server accepts an obsolete TLS/SSL version",
    description="A handshake with a server (web access logs in the secmon_tls format, Zeek ssl.log) used SSL or "
    "a TLS version below the minimum (TLS 1.2 by default; DTLS 1.0 counts as TLS 1.1). One alert per "
    "server:port; each weak version is reported when first seen, then once per `report_every`. "
    "SSL is high, TLS 1.0/1.1 medium; the alert's message names the worst version seen.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("web.access", "zeek.ssl"),
    state=StateSpec(kind="last_seen", key=("destination.ip", "destination.port")),
    tags=("policy.tls", "attack.t1557"),
    dedup_period=timedelta(days=7),
)


class Params(BaseModel):
    """The oldest acceptable TLS version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_version: Literal["1.1", "1.2", "1.3"] = Field("1.2", description="Older TLS versions (and any SSL) alert.")
    report_every: Duration = Field(
        timedelta(days=7), description="A weak version still in use is reported again after this long."
    )


def step(state, event: Event, params: Params):
    """One finding per weak version newly seen on the server (or not reported for `report_every`)."""
    weak = weak_version(event.tls.version_protocol, event.tls.version, params.min_version)
    if weak is None:
        return state, []
    state, report = due(state, weak, event.timestamp.timestamp(), params.report_every.total_seconds())
    severity: Severity | None = "high" if weak.startswith("SSL") else None  # SSL is broken outright (POODLE, DROWN)
    return state, [server_finding(event, f"accepts {weak}", severity)] if report else []


DETECTOR = Detector(
    meta=META, params=Params, step=step, key=server_key, ttl=lambda params: params.report_every.total_seconds()
)
