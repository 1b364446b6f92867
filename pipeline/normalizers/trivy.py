"""Trivy JSON reports (SchemaVersion 2): one event per vulnerability finding, plus one per scan.

A report is one pretty-printed document (framing "document"). `split` cuts it into small
self-contained JSON records so each finding is its own Kafka message with its own id:

- record 0, the scan: `{"SchemaVersion", "ArtifactName", "ArtifactType", "CreatedAt", "FindingCount"}`
  -> one `scan_completed` event, also for a clean report: it proves the artifact was scanned at
  that time, so a finding absent from a later scan of the same target can be shown fixed;
- records 1..N, the findings: `{"SchemaVersion", "ArtifactName", "ArtifactType", "CreatedAt",
  "Target", "Class", "Type", "Vulnerability": {...}}` -> one `vulnerability_found` event.

`parse` accepts a whole report too (scan event first, then the findings in report order).
Only `Vulnerabilities` are read; misconfiguration, secret and licence results are not findings here.
`secmon.finding.id` is stable across scans: a hash of artifact, target, package (PkgID or PkgName,
and PkgPath when Trivy gives it, so two copies of one library stay two findings), installed
version and vulnerability id. For the scan event it is the hash of the artifact name alone.

Trivy's `Status` goes to `secmon.finding.status` except `fixed` and `affected`, which become
`open`: Trivy's "fixed" means a fixed version exists, not that this installation is fixed.
Reports of Trivy before 0.48 carry no `CreatedAt`; their events are timed when secmon read them.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.normalizers.base import (
    MAX_DOCUMENT_BYTES,
    Normalizer,
    ParseError,
    ParseOptions,
    RawRecord,
    decode_utf8,
    load_json_object,
)
from schemas.bounds import CutAtBounds
from schemas.event import (
    Event,
    EventMeta,
    Finding,
    Host,
    Package,
    Related,
    Secmon,
    Vulnerability,
    VulnScanner,
    VulnScore,
)
from schemas.ids import event_id, record_key
from schemas.types import Keyword, LongKeyword, UtcDatetime

DATASET = "vuln.finding"
HOST_ARTIFACTS = frozenset({"vm"})  # artifact types whose name is a machine, not an image or a repository
STILL_OPEN = frozenset({"fixed", "affected"})
ENVELOPE = ("SchemaVersion", "ArtifactName", "ArtifactType", "CreatedAt")
RESULT = ("Target", "Class", "Type")
M = TypeVar("M", bound=BaseModel)


class Scan(CutAtBounds):
    """What every record of one report shares (unknown keys are ignored, never indexed)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ArtifactName: Keyword = Field(min_length=1, description="Scanned image, directory, repository or VM.")
    ArtifactType: Keyword | None = Field(None, description="container_image, filesystem, repository, vm...")
    CreatedAt: UtcDatetime | None = Field(None, description="When the scan ran (Trivy >= 0.48).")


class Result(CutAtBounds):
    """One scanned target of a report: an OS package database or a language lock file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Target: Keyword | None = Field(None, description="Image OS or lock file path.")
    Class: Keyword | None = Field(None, description="os-pkgs, lang-pkgs...")
    Type: Keyword | None = Field(None, description="Package ecosystem: debian, alpine, pip, jar...")


class TrivyVulnerability(CutAtBounds):
    """One entry of a result's `Vulnerabilities`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    VulnerabilityID: Keyword = Field(min_length=1, description="CVE or advisory id.")
    PkgName: Keyword = Field(min_length=1, description="Affected package.")
    PkgID: Keyword | None = Field(None, description="Package id, e.g. name@version.")
    PkgPath: Keyword | None = Field(None, description="Where the package is installed.")
    InstalledVersion: Keyword | None = Field(None, description="Installed version.")
    FixedVersion: Keyword | None = Field(None, description="Version(s) that fix it.")
    Status: Keyword | None = Field(None, description="fixed, affected, will_not_fix, fix_deferred...")
    Severity: Keyword = Field("UNKNOWN", description="CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN.")
    Title: str | None = Field(None, max_length=65536, description="One-line summary.")
    Description: str | None = Field(None, max_length=65536, description="Long description.")
    PrimaryURL: LongKeyword | None = Field(None, description="Primary reference.")
    CVSS: dict[str, Any] | None = Field(None, description="Scores by vendor (nvd, redhat, ghsa...).")


def split(data: bytes) -> list[bytes]:
    """A whole report -> [scan record, finding records...]; anything else is returned as it is."""
    try:
        report = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; parse reports both
        return [data]
    if not _is_report(report):
        return [data]
    results = report.get("Results") or []
    if not isinstance(results, list) or not all(_splittable(r) for r in results):
        return [data]  # let parse name what is wrong
    envelope = {k: report[k] for k in ENVELOPE if k in report}
    findings = [
        {**envelope, **{k: r[k] for k in RESULT if k in r}, "Vulnerability": v}
        for r in results
        for v in r.get("Vulnerabilities") or []
    ]
    return [_dump({**envelope, "FindingCount": len(findings)})] + [_dump(f) for f in findings]


def _is_report(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("SchemaVersion") == 2
        and "Vulnerability" not in value
        and "FindingCount" not in value
    )


def _splittable(result: Any) -> bool:
    return isinstance(result, dict) and isinstance(result.get("Vulnerabilities") or [], list)


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """A finding record -> one event; a scan record or whole report -> scan event + findings."""
    text = decode_utf8(record.data)
    doc = load_json_object(text)
    version = doc.get("SchemaVersion")
    if version != 2 or isinstance(version, bool):
        raise ParseError("invalid_field", f"SchemaVersion: expected 2, got {_show(version)}")
    scan = _validate(Scan, doc, "")
    key = record_key(record.origin, record.data)
    original = text if options.keep_original else None
    if "Vulnerability" in doc:
        vuln = _validate(TrivyVulnerability, doc["Vulnerability"], "Vulnerability.")
        return [_finding(scan, _validate(Result, doc, ""), vuln, record, event_id(key, 0), original)]
    findings = _findings(doc)
    count = len(findings) if "Results" in doc else _validate_count(doc.get("FindingCount", 0))
    events = [_scan_event(scan, count, record, event_id(key, 0), original)]
    events += [
        _finding(scan, result, vuln, record, event_id(key, i), original) for i, (result, vuln) in enumerate(findings, 1)
    ]
    return events


def _findings(doc: dict[str, Any]) -> list[tuple[Result, TrivyVulnerability]]:
    results = doc.get("Results") or []
    if not isinstance(results, list):
        raise ParseError("invalid_shape", "Results: expected an array")
    found = []
    for i, raw in enumerate(results):
        result = _validate(Result, raw, f"Results.{i}.")
        vulns = raw.get("Vulnerabilities") or []
        if not isinstance(vulns, list):
            raise ParseError("invalid_shape", f"Results.{i}.Vulnerabilities: expected an array")
        found += [
            (result, _validate(TrivyVulnerability, v, f"Results.{i}.Vulnerabilities.{j}.")) for j, v in enumerate(vulns)
        ]
    return found


def _validate(model: type[M], value: Any, where: str) -> M:
    """Validate untrusted JSON against a model, or raise ParseError naming the field."""
    if not isinstance(value, dict):
        raise ParseError("invalid_shape", f"{where.rstrip('.') or 'record'}: expected a JSON object")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ParseError("invalid_field", f"{where}{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def _validate_count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ParseError("invalid_field", f"FindingCount: expected a count, got {_show(value)}")
    return value


def _scan_event(scan: Scan, count: int, record: RawRecord, eid: str, original: str | None) -> Event:
    when = scan.CreatedAt or record.received
    host = _host(scan)
    return Event(
        timestamp=when,
        message=f"Trivy scan of {scan.ArtifactName} completed: {count} vulnerability finding{'' if count == 1 else 's'}",
        event=_meta(eid, "event", "scan_completed", record, original),
        host=host,
        vulnerability=Vulnerability(scanner=VulnScanner(vendor="Trivy")),
        related=Related(hosts=[host.name] if host else []),
        secmon=Secmon(
            origin=record.origin,
            finding=Finding(id=_digest(scan.ArtifactName), target=scan.ArtifactName, first_seen=when),
        ),
    )


def _finding(
    scan: Scan, result: Result, v: TrivyVulnerability, record: RawRecord, eid: str, original: str | None
) -> Event:
    when = scan.CreatedAt or record.received
    host = _host(scan)
    severity = v.Severity.upper()
    fixed = f", fixed in {v.FixedVersion}" if v.FixedVersion else ", no fix yet"
    return Event(
        timestamp=when,
        message=f"{v.VulnerabilityID} ({severity}) in {v.PkgName} {v.InstalledVersion or '?'} "
        f"of {scan.ArtifactName}{fixed}",
        event=_meta(eid, "state", "vulnerability_found", record, original),
        host=host,
        vulnerability=Vulnerability(
            id=v.VulnerabilityID,
            severity=severity,
            category=["package"],
            description=v.Title or v.Description,
            reference=v.PrimaryURL,
            score=_score(v.CVSS),
            scanner=VulnScanner(vendor="Trivy"),
        ),
        package=Package(
            name=v.PkgName,
            version=v.InstalledVersion,
            type=result.Type,
            path=v.PkgPath or (result.Target if result.Class == "lang-pkgs" else None),
        ),
        related=Related(hosts=[host.name] if host else []),
        secmon=Secmon(
            origin=record.origin,
            finding=Finding(
                id=_digest(
                    scan.ArtifactName,
                    result.Target,
                    v.PkgID or v.PkgName,
                    v.PkgPath,
                    v.InstalledVersion,
                    v.VulnerabilityID,
                ),
                target=scan.ArtifactName,
                fixed_version=v.FixedVersion,
                first_seen=when,
                status="open" if not v.Status or v.Status.lower() in STILL_OPEN else v.Status,
            ),
        ),
    )


def _meta(eid: str, kind: str, action: str, record: RawRecord, original: str | None) -> EventMeta:
    return EventMeta(
        id=eid,
        kind=kind,
        category=["vulnerability"],
        type=["info"],
        action=action,
        dataset=DATASET,
        module="trivy",
        provider="trivy",
        created=record.received,
        original=original,
    )


def _host(scan: Scan) -> Host | None:
    return Host(name=scan.ArtifactName) if scan.ArtifactType in HOST_ARTIFACTS else None


def _score(cvss: dict[str, Any] | None) -> VulnScore | None:
    """The highest CVSS v3 base score any vendor gives; malformed entries are skipped."""
    scores = [
        s
        for vendor in (cvss or {}).values()
        if isinstance(vendor, dict)
        for s in (vendor.get("V3Score"),)
        if isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and 0 <= s <= 10
    ]
    return VulnScore(base=float(max(scores))) if scores else None


def _digest(*parts: str | None) -> str:
    text = "\x1f".join(p or "" for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):  # never render untrusted nesting
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sniff(first: bytes) -> bool:
    """Only a compact report can be recognised: a pretty-printed one starts with a bare `{`."""
    return first.lstrip().startswith(b"{") and b'"SchemaVersion"' in first and b'"ArtifactName"' in first


NORMALIZER = Normalizer(
    id="trivy",
    title="Trivy vulnerability reports (JSON, SchemaVersion 2)",
    framing="document",
    parse=parse,
    sniff=_sniff,
    split=split,
    max_line_bytes=MAX_DOCUMENT_BYTES,
)
