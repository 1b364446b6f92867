"""Sign out all devices, end to end on the real Kafka and ES: API -> actions topic -> worker -> the app.

The SaaS application is a small HTTP server in the test that checks each call's signature and
answers 503 to the first attempt of one request; every request must be accepted exactly once,
across a worker restart and a redelivered action, and end up as an audited control event.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.delivery.receivers.webhook import sign
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.control import parse as parse_control
from schemas.event import Origin
from tests.integration.access_data import index_signins, signin_lines, start_service
from tests.integration.conftest import BOOTSTRAP, wait_for
from tests.tokens import Idp

IDP = Idp()
KEY = b"revocation-test-key-0123456789ab"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
ROLES = {"a-admin": {"ws-a": "admin"}, "a1": {"ws-a": "member"}, "b-owner": {"ws-b": "owner"}}


class SaasApp:
    """The application's revocation endpoint: verifies signatures, fails the first try of `flaky` ids."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.bad_signatures = 0
        self.flaky: set[str] = set()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                rid, ts = self.headers["webhook-id"], int(self.headers["webhook-timestamp"])
                if self.headers["webhook-signature"] != sign(rid, ts, body, KEY):
                    app.bad_signatures += 1
                    self.send_response(401)
                else:
                    app.attempts[rid] += 1
                    if rid in app.flaky and app.attempts[rid] == 1:
                        self.send_response(503)
                    else:
                        app.accepted[json.loads(body)["data"]["request_id"]] += 1
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/sessions/revoke"


@pytest.fixture
def saas():
    app = SaasApp()
    yield app
    app.server.shutdown()


def _auth(caller: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {IDP.token(caller, workspaces=ROLES[caller])}"}


def _post(client: httpx.Client, caller: str, ws: str, user: str, key: str | None = None) -> httpx.Response:
    headers = {**_auth(caller), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/v1/workspaces/{ws}/users/{user}/signout-all", headers=headers)


def _delivered(client: httpx.Client, rid: str) -> bool:
    return client.get(f"/v1/signouts/{rid}", headers=_auth("a-admin")).json()["status"] == "delivered"


def test_signout_reaches_the_app_once_survives_a_restart_and_is_audited(stack, es, tmp_path, saas) -> None:
    index_signins(es, stack.prefix, signin_lines())
    client = start_service(stack, IDP.write_jwks(tmp_path / "jwks.json"))
    worker_env = {
        "SECMON_SERVICE_REVOKE_URL": saas.url,
        "SECMON_SERVICE_REVOKE_SECRET": SECRET,
        "SECMON_SERVICE_REVOKE_BACKOFF_SECONDS": "0.2",
    }
    worker = stack.start("actions", log_name="actions", env=worker_env)

    first = _post(client, "a-admin", "ws-a", "a1", key="k1")
    again = _post(client, "a-admin", "ws-a", "a1", key="k1")
    assert first.status_code == again.status_code == 202, first.text
    rid1 = first.json()["request_id"]
    assert again.json()["request_id"] == rid1
    saas.flaky.add(rid1)
    assert [
        _post(client, c, ws, u).status_code
        for c, ws, u in (("a1", "ws-a", "a2"), ("b-owner", "ws-a", "a1"), ("a-admin", "ws-b", "b1"))
    ] == [403, 403, 403]
    rid2 = _post(client, "a1", "ws-a", "a1").json()["request_id"]  # a user may sign themself out
    wait_for(lambda: _delivered(client, rid1) and _delivered(client, rid2), 90, 0.5, "both sign-outs delivered")

    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(30) == 143  # SIGTERM: a clean stop (README, Exit codes)
    rid3 = _post(client, "a-admin", "ws-a", "a2", key="k3").json()["request_id"]
    assert client.get(f"/v1/signouts/{rid3}", headers=_auth("a-admin")).json()["status"] == "requested"
    with KafkaProducer(bootstrap_servers=BOOTSTRAP) as producer:  # a redelivered action must not sign out twice
        producer.send(f"{stack.prefix}-actions", json.dumps({"kind": "signout_all", "request_id": rid1}).encode())
    stack.start("actions", log_name="actions", env=worker_env)
    wait_for(lambda: _delivered(client, rid3), 90, 0.5, "the sign-out requested while the worker was down")

    assert saas.bad_signatures == 0
    assert dict(saas.accepted) == {rid1: 1, rid2: 1, rid3: 1}
    status1 = client.get(f"/v1/signouts/{rid1}", headers=_auth("a-admin")).json()
    assert (status1["attempts"], status1["http_status"]) == (2, 204)
    assert client.get(f"/v1/signouts/{rid1}", headers=_auth("b-owner")).status_code == 404

    consumer = KafkaConsumer(
        f"{stack.prefix}-raw-control",
        bootstrap_servers=BOOTSTRAP,
        group_id=uuid.uuid4().hex,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
    )
    events = [
        e
        for m in consumer
        for e in parse_control(
            RawRecord(data=m.value, origin=Origin(source="control", topic=m.topic, kafka_offset=m.offset)),
            ParseOptions(),
        )
    ]
    consumer.close()
    assert sorted((e.event.action, e.user.target.name, e.user.name, e.secmon.control.job_id) for e in events) == sorted(
        [
            ("signout_all_executed", "a1", "a-admin", rid1),
            ("signout_all_executed", "a1", "a1", rid2),
            ("signout_all_executed", "a2", "a-admin", rid3),
        ]
    )

    es.indices.refresh(index=f"{stack.prefix}-access-audit")
    audit = [
        h["_source"]
        for h in es.search(
            index=f"{stack.prefix}-access-audit",
            size=200,
            query={"terms": {"action": ["signout_request", "signout_delivered"]}},
        )["hits"]["hits"]
    ]
    assert Counter((a["action"], a["status"]) for a in audit) == {
        ("signout_request", 202): 4,
        ("signout_request", 403): 3,
        ("signout_delivered", 200): 3,
    }
