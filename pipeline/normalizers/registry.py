"""Every log source secmon reads, registered in one place (key == module stem == source id)."""

from __future__ import annotations

from collections import Counter

from pipeline.normalizers import (
    app_signin,
    cloudtrail,
    control,
    okta,
    osquery,
    sshd,
    staff_access,
    trivy,
    vpcflow,
    web_access,
    zeek_ssl,
    zeek_x509,
)
from pipeline.normalizers.base import Normalizer

NORMALIZERS: dict[str, Normalizer] = {
    n.id: n
    for n in (
        app_signin.NORMALIZER,
        cloudtrail.NORMALIZER,
        vpcflow.NORMALIZER,
        web_access.NORMALIZER,
        zeek_ssl.NORMALIZER,
        zeek_x509.NORMALIZER,
        control.NORMALIZER,
        osquery.NORMALIZER,
        staff_access.NORMALIZER,
        trivy.NORMALIZER,
        sshd.NORMALIZER,
        okta.NORMALIZER,
    )
}


def get(source: str) -> Normalizer:
    """The normalizer for `source`, or a KeyError that lists the known ones."""
    try:
        return NORMALIZERS[source]
    except KeyError:
        known = ", ".join(sorted(NORMALIZERS))
        raise KeyError(f"unknown source {source!r}; known sources: {known}") from None


def sniff(head: bytes, max_lines: int = 50) -> Normalizer | None:
    """The normalizer that recognises most of a file's first lines (a document format: its head).

    Voting over several lines lets an auth.log that starts with a cron line still be read as
    sshd; a tie or no vote at all means the format must be named (`--source`).
    """
    lines = [line for line in head.split(b"\n")[:max_lines] if line.strip()]
    votes: Counter[str] = Counter()
    for normalizer in NORMALIZERS.values():
        if normalizer.framing == "document":
            votes[normalizer.id] += len(lines) if normalizer.sniff(head) else 0
        else:
            votes[normalizer.id] += sum(1 for line in lines if normalizer.sniff(line))
    ranked = [(source, n) for source, n in votes.most_common(2) if n > 0]
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return NORMALIZERS[ranked[0][0]]
