"""`secmon serve` on the real ES node and Kafka broker: every role sees exactly its scope."""

from __future__ import annotations

import csv
import io
import json
import uuid

import httpx
import pytest
from kafka import KafkaConsumer

from tests.integration.access_data import index_signins, signin_lines, start_service
from tests.integration.conftest import BOOTSTRAP
from tests.tokens import Idp

IDP = Idp()
CALLERS = {  # caller -> (workspace roles, staff)
    "a1": ({"ws-a": "member"}, False),
    "a-admin": ({"ws-a": "admin"}, False),
    "b-owner": ({"ws-b": "owner"}, False),
    "c1": ({"ws-c": "member"}, False),
    "s1": ({}, True),
}
JUSTIFY = {"justification": "customer asked for help with a lockout", "ticket": "SUP-42"}
# (caller, path, params) -> expected status, and the lines it must return (None: an error status)
TABLE = [
    ("a1", "/v1/me/access-log", {}, 200, lambda s: s["user_id"] == "a1"),
    ("a1", "/v1/workspaces/ws-a/access-log", {}, 403, None),
    ("a-admin", "/v1/me/access-log", {}, 200, lambda s: s["user_id"] == "a-admin"),
    ("a-admin", "/v1/workspaces/ws-a/access-log", {}, 200, lambda s: s["workspace"] == "ws-a"),
    ("a-admin", "/v1/workspaces/ws-a/access-log", {"user": "a2"}, 200, lambda s: s["user_id"] == "a2"),
    (
        "a-admin",
        "/v1/workspaces/ws-a/access-log",
        {"outcome": "failure"},
        200,
        lambda s: s["workspace"] == "ws-a" and s["outcome"] == "failure",
    ),
    ("a-admin", "/v1/workspaces/ws-a/access-log", {"user": "b1"}, 200, lambda s: False),
    ("a-admin", "/v1/workspaces/ws-b/access-log", {}, 403, None),
    ("b-owner", "/v1/workspaces/ws-b/access-log", {}, 200, lambda s: s["workspace"] == "ws-b"),
    ("b-owner", "/v1/workspaces/ws-a/access-log", {"user": "a1"}, 403, None),
    (
        "b-owner",
        "/v1/me/access-log",
        {"outcome": "success"},
        200,
        lambda s: s["user_id"] == "b-owner" and s["outcome"] == "success",
    ),
    ("c1", "/v1/workspaces/ws-c/access-log", {}, 403, None),
    ("s1", "/v1/workspaces/ws-c/access-log", {}, 403, None),
    ("s1", "/v1/workspaces/ws-c/access-log", JUSTIFY, 200, lambda s: s["workspace"] == "ws-c"),
    ("s1", "/v1/me/access-log", {}, 200, lambda s: False),
    ("a1", "/v1/workspaces/ws-a/access-log", {"user": "a1' OR 1=1"}, 422, None),
    ("a1", "/v1/me/access-log", {"limit": 100000}, 422, None),
    ("a1", "/v1/me/access-log", {"cursor": "bm90LWEtY3Vyc29y"}, 400, None),
]


@pytest.fixture
def service(stack, es, tmp_path):
    lines = signin_lines()
    index_signins(es, stack.prefix, lines)
    client = start_service(stack, IDP.write_jwks(tmp_path / "jwks.json"))
    yield client, lines
    client.close()


def _get(client: httpx.Client, caller: str, path: str, **params) -> httpx.Response:
    roles, staff = CALLERS[caller]
    return client.get(
        path, params=params, headers={"Authorization": f"Bearer {IDP.token(caller, workspaces=roles, staff=staff)}"}
    )


def test_each_role_sees_exactly_its_scope(service, stack, es) -> None:
    client, lines = service
    failures = []
    for caller, path, params, status, selects in TABLE:
        resp = _get(client, caller, path, **{"limit": 100, **params})
        want = (
            None
            if selects is None
            else sorted((s_ for s_ in lines if selects(s_)), key=lambda s: s["timestamp"], reverse=True)
        )
        got_rows = resp.json()["rows"] if resp.status_code == 200 else None
        got = (resp.status_code, None if got_rows is None else [(r["user_id"], r["time"][:16]) for r in got_rows])
        expect = (status, None if want is None else [(s_["user_id"], s_["timestamp"][:16]) for s_ in want])
        if got != expect:
            failures.append(
                f"{caller} {path} {params}: got {got[0]} {len(got[1] or [])} rows, "
                f"want {expect[0]} {len(expect[1] or [])} rows ({resp.text[:200]})"
            )
    assert not failures, "\n".join(failures)

    es.indices.refresh(index=f"{stack.prefix}-access-audit")
    audit = es.search(index=f"{stack.prefix}-access-audit", size=100, query={"match_all": {}})["hits"]["hits"]
    by = [(h["_source"].get("caller", {}).get("id"), h["_source"]["status"]) for h in audit]
    assert by.count(("a1", 403)) == 1 and ("a-admin", 200) in by and ("s1", 403) in by
    assert len(audit) == len(TABLE) - 2  # the two 422s are refused before the handler runs


def test_staff_access_is_published_as_staff_access(service, stack) -> None:
    client, _ = service
    assert _get(client, "s1", "/v1/workspaces/ws-c/access-log", **JUSTIFY).status_code == 200
    consumer = KafkaConsumer(
        f"{stack.prefix}-raw-staff_access",
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
        group_id=uuid.uuid4().hex,
    )
    records = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert [(r["employee_id"], r["workspace"], r["action"], r["record_count"], r["ticket_id"]) for r in records] == [
        ("s1", "ws-c", "read", 4, "SUP-42")
    ]
    assert records[0]["justification"] == JUSTIFY["justification"]


def test_pages_walk_the_whole_log_newest_first_and_csv_exports_it(service) -> None:
    client, lines = service
    seen, cursor, pages = [], None, 0
    while True:
        resp = _get(
            client, "a-admin", "/v1/workspaces/ws-a/access-log", limit=4, **({"cursor": cursor} if cursor else {})
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        seen += page["rows"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ws_a = [s_ for s_ in lines if s_["workspace"] == "ws-a"]
    assert pages == -(-len(ws_a) // 4) and len({r["id"] for r in seen}) == len(ws_a)
    assert [r["time"] for r in seen] == sorted((r["time"] for r in seen), reverse=True)

    mid = sorted(s_["timestamp"] for s_ in ws_a)[len(ws_a) // 2]
    export = _get(client, "a-admin", "/v1/workspaces/ws-a/access-log", format="csv", since=mid)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == sum(1 for s_ in ws_a if s_["timestamp"] >= mid)
    assert {r["device_type"] for r in rows} <= {"desktop", "mobile", "cli"} and all(r["ip"] for r in rows)


def test_bad_tokens_are_refused(service) -> None:
    client, _ = service
    bad = IDP.bad_tokens("a-admin", {"ws-a": "admin"})
    statuses = {
        kind: client.get("/v1/workspaces/ws-a/access-log", headers={"Authorization": f"Bearer {tok}"}).status_code
        for kind, tok in bad.items()
    }
    statuses["missing"] = client.get("/v1/me/access-log").status_code
    assert statuses == {kind: 401 for kind in statuses}


def test_openapi_documents_the_endpoints(service) -> None:
    client, _ = service
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/me/access-log", "/v1/workspaces/{ws}/access-log"} <= set(paths)


def test_callers_are_rate_limited_one_by_one(stack, es, tmp_path) -> None:
    client = start_service(
        stack,
        IDP.write_jwks(tmp_path / "jwks.json"),
        env={"SECMON_SERVICE_RATE_BURST": "3", "SECMON_SERVICE_RATE_PER_MINUTE": "1"},
    )
    statuses = [_get(client, "a1", "/v1/me/access-log").status_code for _ in range(4)]
    limited = _get(client, "a1", "/v1/me/access-log")
    assert statuses == [200, 200, 200, 429] and int(limited.headers["Retry-After"]) > 1
    assert _get(client, "c1", "/v1/me/access-log").status_code == 200  # another caller is not limited
    es.indices.refresh(index=f"{stack.prefix}-access-audit")
    assert es.count(index=f"{stack.prefix}-access-audit", query={"term": {"action": "rate_limited"}})["count"] == 2
    client.close()
