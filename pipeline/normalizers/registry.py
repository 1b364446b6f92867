"""Every log source secmon reads, registered in one place (key == module stem == source id)."""

from __future__ import annotations

from pipeline.normalizers import app_signin
from pipeline.normalizers import cloudtrail
from pipeline.normalizers import vpcflow
from pipeline.normalizers import web_access
from pipeline.normalizers import zeek_ssl
from pipeline.normalizers import control
from pipeline.normalizers import osquery
from pipeline.normalizers import staff_access
from pipeline.normalizers import trivy
from pipeline.normalizers import sshd
from pipeline.normalizers.base import Normalizer

NORMALIZERS: dict[str, Normalizer] = {
    n.id: n
    for n in (
        app_signin.NORMALIZER,
        cloudtrail.NORMALIZER,
        vpcflow.NORMALIZER,
        web_access.NORMALIZER,
        zeek_ssl.NORMALIZER,
        control.NORMALIZER,
        osquery.NORMALIZER,
        staff_access.NORMALIZER,
        trivy.NORMALIZER,
        sshd.NORMALIZER,
    )
}


def get(source: str) -> Normalizer:
    """The normalizer for `source`, or a KeyError that lists the known ones."""
    try:
        return NORMALIZERS[source]
    except KeyError:
        known = ", ".join(sorted(NORMALIZERS))
        raise KeyError(f"unknown source {source!r}; known sources: {known}") from None


def sniff(first_line: bytes) -> Normalizer | None:
    """The one normalizer that recognises this first line, or None when none or several do."""
    matches = [n for n in NORMALIZERS.values() if n.sniff(first_line)]
    return matches[0] if len(matches) == 1 else None
