"""Index names of a deployment: what is data, what is a record, and restore copies match no template."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pipeline.lifecycle import Names
from pipeline.settings import SecmonSettings
from schemas.templates import TEMPLATES


def test_names_follow_the_prefix_and_the_settings():
    names = Names.of(SecmonSettings(es={"index_prefix": "acme"}, lifecycle={"audit_index": "trail"}))
    assert names.data_patterns() == ["acme-events-*", "acme-alerts-*", "acme-deadletter-*"]
    assert names.record_alias("audit") == "acme-trail"
    assert names.record_index("holds") == "acme-holds-000001"
    assert "acme-receipts-*" in names.all_patterns()


def test_default_record_indices_get_their_generated_template():
    names = Names("secmon")
    for kind in ("audit", "receipts", "holds"):
        assert fnmatchcase(names.record_index(kind), f"secmon-{TEMPLATES[kind][1]}")


def test_restore_copies_match_no_template_and_no_backup_pattern():
    copy = Names("secmon").restore_prefix + "20261130-secmon-events-app.signin-2026.11.01"
    assert not any(fnmatchcase(copy, f"secmon-{pattern}") for _, pattern in TEMPLATES.values())
    assert not any(fnmatchcase(copy, p) for p in Names("secmon").all_patterns())
