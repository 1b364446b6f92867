"""bench.signin_month: deterministic by seed, labels consistent with the lines, fields valid for app_signin."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.signin_month import HARD_NEGATIVES, TAKEOVER_FROM_DAY, TAKEOVERS, generate, network_table
from pipeline.context.store import ContextStore
from pipeline.normalizers import registry
from pipeline.normalizers.app_signin import AppSignin
from pipeline.process import process_record
from pipeline.readers import read_records
from pipeline.settings import SecmonSettings

SMALL = {"users": 40, "workspaces": 5, "days": 14, "takeovers": 4}
START = datetime(2026, 10, 1, tzinfo=timezone.utc)
FILES = ("signins.jsonl", "labels.jsonl", "context/users.csv")


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("month")
    generate(out, seed=3, **SMALL)
    return out


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "signins.jsonl").read_text().splitlines()]


def labels(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]


def test_same_seed_same_files_other_seed_other_files(month: Path, tmp_path: Path):
    generate(tmp_path / "again", seed=3, **SMALL)
    generate(tmp_path / "other", seed=4, **SMALL)
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (month / name).read_bytes(), name
    assert (tmp_path / "other" / "signins.jsonl").read_bytes() != (month / "signins.jsonl").read_bytes()


def test_lines_are_valid_app_signins_in_time_order(month: Path):
    data = rows(month)
    assert all(set(r) == set(AppSignin.model_fields) for r in data)
    parsed = [AppSignin.model_validate(r) for r in data]
    stamps = [p.timestamp for p in parsed]
    assert stamps == sorted(stamps)
    assert START <= stamps[0] and stamps[-1] < START + timedelta(days=SMALL["days"])
    normalizer = registry.get("app_signin")
    results = [
        process_record(rec, normalizer, (), SecmonSettings().parse.options())
        for rec in read_records(str(month / "signins.jsonl"), normalizer, 1 << 20)
    ]
    assert [r.dead_letter for r in results if r.dead_letter] == []
    assert sum(len(r.events) for r in results) == len(data)


def test_labels_point_at_their_own_lines(month: Path):
    data, found = rows(month), labels(month)
    takeovers = [lb for lb in found if not lb.get("benign")]
    assert len(takeovers) == SMALL["takeovers"]
    assert {lb["kind"] for lb in takeovers} <= set(TAKEOVERS)
    assert {lb["kind"] for lb in found if lb.get("benign")} <= set(HARD_NEGATIVES)
    seen: set[int] = set()
    for lb in found:
        assert lb["lines"] and not seen & set(lb["lines"]), lb["id"]
        seen |= set(lb["lines"])
        mine = [data[n - 1] for n in lb["lines"]]  # a mistyped login name is an unknown user
        assert all(r["user"] == lb["user"] or r["failure_reason"] == "unknown_user" for r in mine), lb["id"]
    for lb in takeovers:
        mine = [data[n - 1] for n in lb["lines"]]
        assert mine[0]["timestamp"] == lb["start"]
        assert datetime.fromisoformat(lb["start"]) >= START + timedelta(days=TAKEOVER_FROM_DAY - 1)
        assert any(r["outcome"] == "success" and r["timestamp"] == lb["first_success"] for r in mine)
        assert 2 <= sum(r["outcome"] == "success" for r in mine) <= 6


def test_attacker_addresses_locate_where_labelled(month: Path):
    data, nets = rows(month), network_table()
    for lb in (lb for lb in labels(month) if not lb.get("benign")):
        assert {nets.located(data[n - 1]["source_ip"]) for n in lb["lines"]} == {(lb["country"], lb["asn"])}


def test_users_table_loads_and_names_every_account(month: Path):
    store = ContextStore(month / "context", background=False)
    ids = {r["user_id"] for r in rows(month) if r["user_id"]}
    assert store.counts()["users"] == SMALL["users"] >= len(ids)
    for user_id in ids:
        user = store.user_by_id(user_id)
        assert user is not None and user.timezone and user.team
    assert any(row.employee for row in store.tables["users"].rows.values())
