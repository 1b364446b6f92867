"""A certificate seen on the network that is weak: SHA-1 or MD5 signed, a short key, or expired.

Read from Zeek's x509.log (every certificate of every handshake, chains included). A SHA-1
signature can be forged (SHAttered, 2017) and browsers refuse it; an RSA or DSA key under
`min_rsa_bits` (EC under `min_ec_bits`) can be factored or is below every current baseline; an
expired certificate is one nobody renewed. A self-signed certificate (subject = issuer: a root
CA, or a device's own certificate) is not judged by its signature, which nothing relies on; its
key and dates still are. One alert per certificate (fingerprint) and dedup period.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Detector, DetectorMeta, Entity, Finding, StateSpec
from schemas.alert import Resource
from schemas.event import X509, Event, TlsSide

Weakness = Literal["sha1", "md5", "short_key", "expired"]
FINITE_FIELD_KEYS = frozenset({"RSA", "DSA"})

META = DetectorMeta(
    id="tls_weak_certificate",
    title="Weak TLS certificate in use",
    description="A certificate seen in a TLS handshake (Zeek x509.log) is signed with SHA-1 or MD5 (self-signed "
    "ones excepted), has an RSA/DSA key shorter than `min_rsa_bits` or an EC key shorter than "
    "`min_ec_bits`, or had expired when seen. One alert per certificate fingerprint.",
    version=1,
    severity="medium",
    maturity="stable",
    datasets=("zeek.x509",),
    state=StateSpec(kind="none", key=("tls.server.hash.sha256",)),
    tags=("policy.tls", "attack.t1557", "attack.t1587.003"),
    dedup_period=timedelta(days=30),
)


class Params(BaseModel):
    """Which weaknesses count, and the key sizes below which a key is short."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weak: list[Weakness] = Field(["sha1", "md5", "short_key", "expired"], description="Weaknesses that alert.")
    min_rsa_bits: int = Field(2048, ge=512, description="RSA and DSA keys shorter than this are short.")
    min_ec_bits: int = Field(224, ge=128, description="Elliptic-curve keys shorter than this are short.")


def side(event: Event) -> TlsSide | None:
    """The certificate's side: the server's, or a client certificate's."""
    tls = event.tls
    found = (tls.server or tls.client) if tls else None
    return found if found is not None and found.x509 is not None else None


def key(event: Event) -> str | None:
    """The certificate's fingerprint (sha256, sha1 or md5, as Zeek hashed it), else issuer + serial."""
    cert = side(event)
    if cert is None:
        return None
    digest = (cert.hash.sha256 or cert.hash.sha1 or cert.hash.md5) if cert.hash else None
    if digest:
        return digest
    x509 = cert.x509
    return f"{cert.issuer}|{x509.serial_number}" if x509.serial_number else None


def weaknesses(x509: X509, seen: Event, params: Params) -> list[str]:
    """What is weak about a certificate, in words, among the weaknesses `params` checks."""
    found = []
    signature = (x509.signature_algorithm or "").lower()
    self_signed = (
        x509.subject is not None
        and x509.issuer is not None
        and (x509.subject.distinguished_name == x509.issuer.distinguished_name)
    )
    if "sha1" in params.weak and "sha1" in signature and not self_signed:
        found.append(f"SHA-1 signature ({x509.signature_algorithm})")
    if "md5" in params.weak and ("md5" in signature or "md2" in signature) and not self_signed:
        found.append(f"MD5 signature ({x509.signature_algorithm})")
    if "short_key" in params.weak and (short := _short_key(x509, params)):
        found.append(short)
    if "expired" in params.weak and x509.not_after is not None and x509.not_after < seen.timestamp:
        found.append(f"expired on {x509.not_after:%Y-%m-%d}")
    return found


def _short_key(x509: X509, params: Params) -> str | None:
    size, algorithm = x509.public_key_size, (x509.public_key_algorithm or "").upper()
    if size is None:
        return None
    minimum = (
        params.min_rsa_bits if algorithm in FINITE_FIELD_KEYS else params.min_ec_bits if algorithm == "ECDSA" else None
    )
    return f"{algorithm} key of {size} bits (under {minimum})" if minimum and size < minimum else None


def step(state, event: Event, params: Params):
    """One finding per sighting of a weak certificate (the alert folds them per dedup period)."""
    cert = side(event)
    x509 = cert.x509 if cert else None
    found = weaknesses(x509, event, params) if x509 else []
    if not found or cert is None or x509 is None:
        return None, []
    subject: list[str | None] = (
        [*x509.subject.common_name] if x509.subject and x509.subject.common_name else [cert.subject]
    )
    issuer: list[str | None] = [*x509.issuer.common_name] if x509.issuer and x509.issuer.common_name else [cert.issuer]
    whose = "client certificate" if event.tls.client is cert else "certificate"
    finding = Finding(
        message=f"{whose} {subject[0]} (issued by {issuer[0]}, {(key(event) or '')[:16]}) is weak: {'; '.join(found)}",
        entity=Entity(resource=Resource(type="x509_certificate", id=key(event))),
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
    )
    return None, [finding]


DETECTOR = Detector(meta=META, params=Params, step=step, key=key)
