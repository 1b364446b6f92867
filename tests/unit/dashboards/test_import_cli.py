"""`secmon dashboards import|export` against a real local HTTP server answering like Kibana's
saved-objects API: the requests it records must match that API (multipart `file`, overwrite=true,
kbn-xsrf, ApiKey from the secrets dir), and each kind of answer gives a clear result."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from pipeline.cli import main
from pipeline.dashboards import objects

KEY = "c2VjbW9uOnRlc3Qta2V5LW5vdC1yZWFs"


@dataclass
class Answer:
    """What the server answers next: status and JSON body (or raw text)."""

    status: int = 200
    body: object = None
    requests: list[dict] = field(default_factory=list)


class KibanaServer:
    """An aiohttp server on a loopback port, run in a thread, recording every request."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        record = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "fields": {},
        }
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                record["fields"][part.name] = {"filename": part.filename, "text": (await part.read()).decode()}
        else:
            record["json"] = await request.json() if request.can_read_body else None
        self.answer.requests.append(record)
        body = self.answer.body
        if body is None:  # a Kibana-like success: every object imported
            lines = record["fields"].get("file", {}).get("text", "").splitlines()
            body = {"success": True, "successCount": len(lines), "successResults": []}
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=self.answer.status, text=text, content_type="application/json")

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.runner = runner
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def kibana(tmp_path, monkeypatch) -> Iterator[KibanaServer]:
    for name in [n for n in os.environ if n.startswith("SECMON_")]:
        monkeypatch.delenv(name)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "secmon_kibana").write_text(json.dumps({"api_key": KEY}))
    monkeypatch.setenv("SECMON_SECRETS_DIR", str(secrets))
    server = KibanaServer()
    server.start()
    yield server
    server.stop()


def test_import_sends_what_kibana_expects(kibana, capsys):
    assert main(["dashboards", "import", "--kibana-url", kibana.url]) == 0
    (req,) = kibana.answer.requests
    assert (req["method"], req["path"], req["query"]) == ("POST", "/api/saved_objects/_import", {"overwrite": "true"})
    assert req["headers"]["kbn-xsrf"]
    assert req["headers"]["Authorization"] == f"ApiKey {KEY}"
    assert req["headers"]["Content-Type"].startswith("multipart/form-data")
    assert list(req["fields"]) == ["file"] and req["fields"]["file"]["filename"].endswith(".ndjson")
    sent = [json.loads(line) for line in req["fields"]["file"]["text"].splitlines()]
    assert sent == json.loads(json.dumps(objects()))
    assert f"imported {len(sent)} of {len(sent)}" in capsys.readouterr().err


def test_import_twice_sends_the_same_ids(kibana):
    assert main(["dashboards", "import", "--kibana-url", kibana.url]) == 0
    assert main(["dashboards", "import", "--kibana-url", kibana.url]) == 0
    first, second = (r["fields"]["file"]["text"] for r in kibana.answer.requests)
    assert first == second  # same ids + overwrite=true: a re-import replaces, never duplicates


def test_space_and_prefix(kibana, monkeypatch):
    monkeypatch.setenv("SECMON_KIBANA_SPACE", "security")
    monkeypatch.setenv("SECMON_ES_INDEX_PREFIX", "acme")
    assert main(["dashboards", "import", "--kibana-url", kibana.url + "/"]) == 0
    (req,) = kibana.answer.requests
    assert req["path"] == "/s/security/api/saved_objects/_import"
    assert '"title": "acme-events-*"' in req["fields"]["file"]["text"]


def test_each_refused_object_is_listed(kibana, capsys):
    kibana.answer.body = {
        "success": False,
        "successCount": 2,
        "errors": [
            {
                "id": "secmon-dashboard-overview",
                "type": "dashboard",
                "meta": {"title": "secmon: Overview"},
                "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "secmon-dv-x"}]},
            },
            {
                "id": "secmon-dv-events",
                "type": "index-pattern",
                "meta": {"title": "secmon-events-*"},
                "error": {"type": "unknown", "message": "boom", "statusCode": 500},
            },
        ],
    }
    assert main(["dashboards", "import", "--kibana-url", kibana.url]) == 1
    err = capsys.readouterr().err.splitlines()
    assert (
        "secmon: not imported: dashboard secmon-dashboard-overview (secmon: Overview): missing_references "
        "index-pattern secmon-dv-x" in err
    )
    assert "secmon: not imported: index-pattern secmon-dv-events (secmon-events-*): unknown boom" in err
    assert err[-1].startswith("secmon: imported 2 of ")


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_one_clear_line(kibana, capsys, status):
    kibana.answer.status = status
    kibana.answer.body = {"statusCode": status, "error": "Unauthorized", "message": "[security_exception] unable"}
    assert main(["dashboards", "import", "--kibana-url", kibana.url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"Kibana answered {status}" in err and "secmon_kibana" in err
    assert KEY not in err


def test_bad_request_shows_kibanas_message(kibana, capsys):
    kibana.answer.status = 415
    kibana.answer.body = {"statusCode": 415, "error": "Unsupported Media Type", "message": "Unsupported file extension"}
    assert main(["dashboards", "import", "--kibana-url", kibana.url]) == 2
    assert "Kibana answered 415 to the import: Unsupported file extension" in capsys.readouterr().err


def test_unreachable_kibana(capsys, kibana):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["dashboards", "import", "--kibana-url", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is unreachable" in err


def test_export_asks_for_the_dashboards_with_their_references(kibana, tmp_path):
    exported = [{"type": "dashboard", "id": "secmon-dashboard-overview", "attributes": {"title": "x"}}]
    kibana.answer.body = "\n".join(
        [json.dumps(o) for o in exported]
        + [json.dumps({"exportedCount": 1, "missingRefCount": 0, "missingReferences": []})]
    )
    out = tmp_path / "export.ndjson"
    assert main(["dashboards", "export", "--kibana-url", kibana.url, "--out", str(out)]) == 0
    (req,) = kibana.answer.requests
    assert (req["method"], req["path"]) == ("POST", "/api/saved_objects/_export")
    assert req["json"]["includeReferencesDeep"] is True
    assert {"type": "dashboard", "id": "secmon-dashboard-signins"} in req["json"]["objects"]
    assert [json.loads(line) for line in out.read_text().splitlines()] == exported


def test_export_with_missing_references_says_to_import(kibana, capsys, tmp_path):
    kibana.answer.body = json.dumps(
        {
            "exportedCount": 0,
            "missingRefCount": 1,
            "missingReferences": [{"type": "lens", "id": "secmon-overview-open-alerts"}],
        }
    )
    assert main(["dashboards", "export", "--kibana-url", kibana.url, "--out", str(tmp_path / "x")]) == 2
    assert "run `secmon dashboards import` first" in capsys.readouterr().err
