"""Retention decisions: index day from the name, per-dataset periods, whole days only, holds win."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from pipeline.lifecycle import Names
from pipeline.lifecycle.retention import parse_index, plan
from pipeline.settings import LifecycleSettings
from schemas.lifecycle import LegalHold

NAMES = Names("secmon")
CFG = LifecycleSettings(retention_days={"app.signin": 30, "alerts": 400}, default_retention_days=90)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ("secmon-events-app.signin-2026.11.01", ("events", "app.signin", date(2026, 11, 1))),
        ("secmon-events-web-access.v2-2026.02.28", ("events", "web-access.v2", date(2026, 2, 28))),
        ("secmon-alerts-2026.11.01", ("alerts", None, date(2026, 11, 1))),
        ("secmon-deadletter-2026.01.31", ("deadletter", None, date(2026, 1, 31))),
        ("secmon-events-app.signin-2026.02.30", None),
        ("secmon-audit-000001", None),
        ("secmon-restoretest-20261130-secmon-events-app.signin-2026.11.01", None),
        ("secmon2-events-app.signin-2026.11.01", None),
        ("secmon-events-2026.11.01", None),
    ],
)
def test_parse_index(index, expected):
    assert parse_index(NAMES, index) == expected


def test_an_index_expires_once_its_whole_day_is_past_retention():
    index = ["secmon-events-app.signin-2026.11.01"]  # last event before 11-02 00:00, kept 30 days
    assert plan(index, NAMES, CFG, [], at("2026-12-01T23:59:59"))[0].action == "keep"
    (p,) = plan(index, NAMES, CFG, [], at("2026-12-02T00:00:00"))
    assert (p.action, p.retention_days, p.expires) == ("delete", 30, at("2026-12-02T00:00:00"))


def test_periods_per_dataset_per_kind_and_default():
    indices = [
        "secmon-events-app.signin-2026.01.01",
        "secmon-events-sshd.auth-2026.01.01",
        "secmon-alerts-2026.01.01",
        "secmon-deadletter-2026.01.01",
    ]
    by_index = {p.index: p for p in plan(indices, NAMES, CFG, [], at("2026-05-01T00:00:00"))}
    assert {i: p.retention_days for i, p in by_index.items()} == {
        "secmon-events-app.signin-2026.01.01": 30,
        "secmon-events-sshd.auth-2026.01.01": 90,
        "secmon-alerts-2026.01.01": 400,
        "secmon-deadletter-2026.01.01": 90,
    }
    assert sorted(i for i, p in by_index.items() if p.action == "delete") == [
        "secmon-deadletter-2026.01.01",
        "secmon-events-app.signin-2026.01.01",
        "secmon-events-sshd.auth-2026.01.01",
    ]


def test_an_open_hold_keeps_an_expired_index_and_a_closed_one_does_not():
    index = ["secmon-events-app.signin-2026.01.01"]
    t = at("2026-11-01T00:00:00")

    def hold(status: str) -> LegalHold:
        return LegalHold(
            timestamp=t,
            hold_id="INC-9",
            incident_id="INC-9",
            reason="lawsuit",
            status=status,
            indices=["secmon-events-*"],
            opened_by="legal",
            opened_at=t,
        )

    (held,) = plan(index, NAMES, CFG, [hold("open")], t)
    assert (held.action, held.holds) == ("hold", ("INC-9",))
    assert plan(index, NAMES, CFG, [hold("closed")], t)[0].action == "delete"


def test_indices_that_are_not_daily_data_are_never_planned():
    assert plan(["secmon-holds-000001", "secmon-receipts-000001", "kibana"], NAMES, CFG, [], at("2030-01-01")) == []
