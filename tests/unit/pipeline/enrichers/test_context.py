"""The context enricher: facts for detectors, explicit missing context, ticket validity for staff access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detectors.cases import make_event
from pipeline import embedded
from pipeline.context.store import ContextStore
from pipeline.enrichers import context as context_enricher
from pipeline.enrichers.base import enrich
from pipeline.enrichers.registry import default_enrichers
from pipeline.settings import EnrichSettings, SecmonSettings
from schemas.event import Event

STAFF_FILE = Path(__file__).parents[3] / "data" / "normalizers" / "staff_access" / "access.jsonl"


def staff_access(**fields: Any) -> Event:
    """A staff read of ws-acme by dana at 10:00 UTC, overridable by dotted ECS paths."""
    base = {
        "@timestamp": "2026-11-30T10:00:00Z",
        "event.id": "e1",
        "event.dataset": "staff.access",
        "user.name": "dana@ourco.example",
        "user.id": "emp-1",
        "organization.id": "ws-acme",
        "secmon.staff_access.action": "read",
        "secmon.staff_access.resource": "workspace/documents",
        "secmon.staff_access.record_count": 3,
    }
    return make_event({**base, **fields})


def ticket(ticket_id: str, employee: str = "dana@ourco.example", workspace: str = "ws-acme") -> str:
    return json.dumps(
        {
            "id": ticket_id,
            "employee": employee,
            "workspace": workspace,
            "valid_from": "2026-11-30T08:00:00Z",
            "valid_to": "2026-11-30T18:00:00Z",
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> ContextStore:
    (tmp_path / "users.yaml").write_text(
        "- {id: emp-1, name: dana@ourco.example, employee: true, team: support, role: support, mfa_required: true,\n"
        "   working_hours: '09:00-18:00', timezone: Europe/Berlin, usual_daily_records: 300}\n"
        "- {id: emp-2, name: oliver@ourco.example, employee: true}\n"
        "- {id: u-1, name: alice@acme.example, team: ws-acme, team_admin: true}\n"
    )
    (tmp_path / "assets.csv").write_text(
        "host,owner,environment,criticality,requires_2fa\nbastion-1.prod.ourco.example,infra,production,critical,true\n"
    )
    (tmp_path / "tickets.jsonl").write_text(
        "\n".join(
            [
                ticket("SUP-1"),
                ticket("SUP-2", workspace="ws-globex"),
                ticket("SUP-3", employee="oliver@ourco.example"),
                ticket("SUP-4", employee="emp-1", workspace="ws-initech"),
            ]
        )
        + "\n"
    )
    return ContextStore(tmp_path)


def event_of(**fields: Any) -> Event:
    """Any event at 10:00 UTC (dataset app.signin unless given)."""
    return make_event({"@timestamp": "2026-11-30T10:00:00Z", "event.id": "e1", **fields})


def enriched(store: ContextStore, event: Event) -> Event:
    return enrich(event, [context_enricher.build(EnrichSettings(), store)])


def test_user_and_asset_facts(store):
    event = enriched(
        store, event_of(**{"event.dataset": "sshd.auth", "user.name": "Dana@ourco.example", "host.name": "bastion-1"})
    )
    known = event.secmon.context
    assert (
        known.user_employee,
        known.user_team,
        known.user_mfa_required,
        known.user_working_hours,
        known.user_timezone,
        known.user_usual_daily_records,
    ) == (True, "support", True, "09:00-18:00", "Europe/Berlin", 300)
    assert (known.asset_owner, known.asset_environment, known.asset_criticality, known.asset_requires_2fa) == (
        "infra",
        "production",
        "critical",
        True,
    )
    assert known.missing == [] and known.ticket_valid is None
    assert event.secmon.enrichment == [f"context@{store.version}"]


def test_missing_context_is_named_never_a_crash(store):
    event = enriched(store, event_of(**{"user.name": "mallory@evil.example", "host.name": "unknown-host"}))
    assert event.secmon.context.missing == ["user", "asset"]
    assert event.secmon.context.user_employee is None
    no_hours = enriched(store, staff_access(**{"user.name": "oliver@ourco.example", "user.id": "emp-2"}))
    assert no_hours.secmon.context.missing == ["user.working_hours"]
    assert enriched(store, event_of(**{"source.ip": "192.0.2.1"})).secmon.context is None


def test_no_ticket_table_means_unknown_not_unjustified(tmp_path):
    (tmp_path / "users.csv").write_text("id,name\nemp-1,dana@ourco.example\n")
    event = enriched(ContextStore(tmp_path), staff_access())
    assert event.secmon.context.ticket_valid is None
    assert event.secmon.context.missing == ["user.working_hours", "tickets"]


@pytest.mark.parametrize(
    ("fields", "valid", "ticket_id", "problem"),
    [
        ({}, True, "SUP-1", None),  # no ticket cited, but one is valid for the employee and workspace
        ({"secmon.staff_access.ticket_id": "SUP-1"}, True, "SUP-1", None),
        ({"secmon.staff_access.ticket_id": "SUP-404"}, True, "SUP-1", "unknown"),  # cited is bogus, another is valid
        ({"organization.id": "ws-globex", "secmon.staff_access.ticket_id": "SUP-2"}, True, "SUP-2", None),
        ({"organization.id": "ws-initech"}, True, "SUP-4", None),  # ticket names the employee by id
        ({"organization.id": "ws-umbrella"}, False, None, None),
        ({"organization.id": "ws-umbrella", "secmon.staff_access.ticket_id": "SUP-404"}, False, None, "unknown"),
        ({"organization.id": "ws-umbrella", "secmon.staff_access.ticket_id": "SUP-1"}, False, None, "other_workspace"),
        (
            {
                "organization.id": "ws-globex",
                "user.name": "oliver@ourco.example",
                "user.id": "emp-2",
                "secmon.staff_access.ticket_id": "SUP-2",
            },
            False,
            None,
            "other_employee",
        ),
        ({"@timestamp": "2026-11-30T18:00:01Z", "secmon.staff_access.ticket_id": "SUP-1"}, False, None, "expired"),
        (
            {"@timestamp": "2026-11-30T07:59:59Z", "secmon.staff_access.ticket_id": "SUP-1"},
            False,
            None,
            "not_yet_valid",
        ),
    ],
)
def test_ticket_validity(store, fields, valid, ticket_id, problem):
    known = enriched(store, staff_access(**fields)).secmon.context
    assert (known.ticket_valid, known.ticket_id, known.ticket_problem) == (valid, ticket_id, problem)


def test_a_topic_update_applies_to_the_next_event(store):
    event = staff_access(**{"organization.id": "ws-umbrella"})
    assert enriched(store, event.model_copy(deep=True)).secmon.context.ticket_valid is False
    before = store.version
    store.apply_message("tickets", "SUP-9", ticket("SUP-9", workspace="ws-umbrella"))
    after = enriched(store, event.model_copy(deep=True))
    assert after.secmon.context.ticket_valid is True and after.secmon.context.ticket_id == "SUP-9"
    assert after.secmon.enrichment == [f"context@{store.version}"] != [f"context@{before}"]


def test_registered_only_when_a_context_dir_is_set(tmp_path):
    assert context_enricher.find(default_enrichers(SecmonSettings())) is None
    enrichers = default_enrichers(SecmonSettings(enrich={"context_dir": tmp_path}))
    assert enrichers[-1] is context_enricher.find(enrichers)
    assert context_enricher.find(enrichers).stamp == "context@none"  # an empty directory loads nothing


def test_embedded_run_alerts_only_on_unjustified_staff_access(tmp_path):
    (tmp_path / "tickets.csv").write_text(
        "id,employee,workspace,valid_from,valid_to\n"
        "SUP-48213,dana.support@ourco.example,ws-acme,2026-11-30T08:00:00Z,"
        "2026-11-30T18:00:00Z\n"
    )
    settings = SecmonSettings(enrich={"context_dir": tmp_path})
    alerts = embedded.run([str(STAFF_FILE)], settings, source="staff_access").alerts.values()
    unjustified = sorted(a.alert.dedup_key for a in alerts if a.rule.id == "staff_access_without_justification")
    assert "dana.support@ourco.example|ws-acme" not in unjustified  # SUP-48213 covers both of her accesses
    assert "oliver.billing@ourco.example|ws-initech" in unjustified
    without = embedded.run([str(STAFF_FILE)], SecmonSettings(), source="staff_access").alerts.values()
    assert not [a for a in without if a.rule.id == "staff_access_without_justification"]  # no tickets: unknown
