"""Trivy reports: cut into one record per finding, stable finding ids, scan events."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.trivy import NORMALIZER, parse, split
from pipeline.process import process_record
from pipeline.readers import read_records
from schemas.event import Origin

CTX = ParseOptions()


def vuln(vid: str = "CVE-2024-45490", pkg: str = "libexpat1", **fields) -> dict:
    return {
        "VulnerabilityID": vid,
        "PkgName": pkg,
        "InstalledVersion": "2.5.0-1",
        "FixedVersion": "2.5.0-1+deb12u1",
        "Severity": "HIGH",
        "Title": f"{pkg}: a flaw",
        "PrimaryURL": f"https://avd.aquasec.com/nvd/{vid.lower()}",
        **fields,
    }


def report(*vulns: dict, created: str = "2026-11-30T06:10:41Z", **fields) -> dict:
    return {
        "SchemaVersion": 2,
        "CreatedAt": created,
        "ArtifactName": "registry.example/api:1",
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": "registry.example/api:1 (debian 12.8)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": list(vulns),
            }
        ],
        **fields,
    }


def run(tmp_path: Path, doc: dict, name: str = "report.json") -> list:
    """The events of one report file, read the way `secmon run` reads it (split, then parsed)."""
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return [process_record(r, NORMALIZER, [], CTX) for r in read_records(str(path), NORMALIZER, 1024 * 1024)]


def whole(doc: dict) -> list:
    return parse(RawRecord(data=json.dumps(doc).encode(), origin=Origin(source="trivy", file_id="f", offset=0)), CTX)


def test_report_is_split_into_a_scan_record_and_one_record_per_finding(tmp_path: Path):
    results = run(tmp_path, report(vuln(), vuln("CVE-2023-45853", "zlib1g")))
    assert [len(r.events) for r in results] == [1, 1, 1]
    events = [r.events[0] for r in results]
    assert [e.event.action for e in events] == ["scan_completed", "vulnerability_found", "vulnerability_found"]
    assert [e.secmon.origin.index for e in events] == [0, 1, 2]
    assert len({e.event.id for e in events}) == 3


def test_whole_report_and_split_records_give_the_same_findings(tmp_path: Path):
    doc = report(vuln(), vuln("CVE-2023-45853", "zlib1g"))
    from_split = [r.events[0] for r in run(tmp_path, doc)]
    from_whole = whole(doc)
    strip = {"event": {"id", "created"}, "secmon": {"origin"}}
    assert [e.model_dump(exclude=strip) for e in from_split] == [e.model_dump(exclude=strip) for e in from_whole]


def test_finding_id_is_stable_across_scans_and_distinct_per_package_copy():
    first = whole(report(vuln(), vuln(PkgPath="a/node_modules/x"), created="2026-11-01T00:00:00Z"))
    later = whole(report(vuln(PkgPath="a/node_modules/x"), vuln(), created="2026-11-30T00:00:00Z"))
    ids = lambda events: {e.secmon.finding.id for e in events[1:]}  # noqa: E731
    assert ids(first) == ids(later) and len(ids(first)) == 2


def test_clean_report_still_proves_the_scan_ran():
    doc = report()
    doc["Results"][0].pop("Vulnerabilities")
    (scan,) = whole(doc)
    assert scan.event.action == "scan_completed" and scan.secmon.finding.target == "registry.example/api:1"
    assert scan.message.endswith("0 vulnerability findings")


def test_highest_cvss_v3_score_is_the_base_score():
    cvss = {"nvd": {"V3Score": 6.5, "V2Score": 9.3}, "redhat": {"V3Score": 8.6}, "ghsa": {"V3Score": "10"}, "x": [1]}
    assert whole(report(vuln(CVSS=cvss)))[1].vulnerability.score.base == 8.6


def test_trivy_fixed_status_means_a_fix_exists_so_the_finding_stays_open():
    statuses = [
        e.secmon.finding.status for e in whole(report(vuln(Status="fixed"), vuln(Status="will_not_fix"), vuln()))[1:]
    ]
    assert statuses == ["open", "will_not_fix", "open"]


def test_vm_artifact_names_the_host():
    (_scan, finding) = whole(report(vuln(), ArtifactName="bastion-1.vmdk", ArtifactType="vm"))
    assert finding.host.name == "bastion-1.vmdk" and finding.related.hosts == ["bastion-1.vmdk"]
    assert whole(report(vuln()))[1].host is None


def test_a_malformed_finding_dead_letters_only_itself(tmp_path: Path):
    results = run(tmp_path, report(vuln(), "CVE-2024-0001", vuln(PkgName=None)))
    assert [r.dead_letter.error_code if r.dead_letter else "ok" for r in results] == [
        "ok",
        "ok",
        "invalid_shape",
        "invalid_field",
    ]


def test_non_reports_are_not_split():
    for data in (
        b"{not json",
        b"[1, 2]",
        b'{"SchemaVersion": 1}',
        json.dumps({"SchemaVersion": 2, "Results": 5}).encode(),
    ):
        assert split(data)[0] is data and len(split(data)) == 1


def test_a_report_over_the_record_limit_is_still_split(tmp_path: Path):
    big = report(*[vuln(f"CVE-2024-{i:05d}", Description="x" * 2000) for i in range(800)])
    results = run(tmp_path, big)
    assert len(results) == 801 and not any(r.dead_letter for r in results)


def test_sniff_recognises_compact_reports_only():
    assert NORMALIZER.sniff(json.dumps(report()).encode())
    assert not NORMALIZER.sniff(b"{\n")
