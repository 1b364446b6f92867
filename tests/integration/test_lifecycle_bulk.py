"""BulkSink on the real node: overload answers (429) and lost answers never lose or double a document;
a document the strict mapping refuses is rejected with its reason while the others are written."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from bench.es_ingest import make_events
from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import BulkReport, BulkSink, client, install_templates
from tests.integration.conftest import ES_URL, count

OVERLOADED = json.dumps(
    {"error": {"type": "es_rejected_execution_exception", "reason": "injected by the test"}, "status": 429}
).encode()
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class InjectingProxy(ThreadingHTTPServer):
    """Loopback proxy to the real node. The first `reject` `_bulk` requests get 429 + Retry-After without
    reaching the node; the next `lose` are written by the node but answered 429 (a lost response)."""

    daemon_threads = True

    def __init__(self, target: str, reject: int, lose: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target = urlsplit(target)
        self.reject, self.lose, self.injected = reject, lose, 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def decide(self, path: str) -> str:
        with self.lock:
            if "_bulk" not in path:
                return "forward"
            if self.reject:
                self.reject, self.injected = self.reject - 1, self.injected + 1
                return "reject"
            if self.lose:
                self.lose, self.injected = self.lose - 1, self.injected + 1
                return "lose"
            return "forward"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = self.server.decide(self.path)
        if action == "reject":
            self._reply(429, [("Retry-After", "1"), ("Content-Type", "application/json")], OVERLOADED)
            return
        status, headers, data = self._forward(body)
        if action == "lose":
            status, data = 429, OVERLOADED
        self._reply(status, headers, data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        target = self.server.target
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP], data

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if not any(k.lower() == "x-elastic-product" for k, _ in headers):
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


@pytest.fixture
def proxy(services) -> Iterator[InjectingProxy]:
    # more rejections than the client's own 3 retries, so the bulk helper's backoff is exercised too
    server = InjectingProxy(ES_URL, reject=5, lose=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def write(cfg: EsSettings, actions_of, events) -> BulkReport:
    async def go() -> BulkReport:
        async with client(cfg) as es:
            await install_templates(es, cfg.index_prefix)
            sink = BulkSink(es, cfg)
            return await sink.write(actions_of(sink, events), "event")

    return asyncio.run(go())


def test_injected_429s_and_a_lost_answer_still_write_every_document_exactly_once(stack, es, proxy):
    events = make_events(500, days=2, file_id=stack.prefix)
    cfg = EsSettings(url=proxy.url, index_prefix=stack.prefix, bulk_max_docs=100)
    report = write(cfg, BulkSink.event_actions, events)
    assert proxy.injected == 6
    assert report.created + report.duplicates == 500 and not report.rejected
    assert report.duplicates == 100  # the chunk whose answer was lost: written once, then 409 on the retry
    assert count(es, f"{stack.prefix}-events-*") == 500
    ids = es.search(
        index=f"{stack.prefix}-events-*",
        size=0,
        aggs={"ids": {"cardinality": {"field": "event.id", "precision_threshold": 1000}}},
    )
    assert ids["aggregations"]["ids"]["value"] == 500


def test_documents_the_strict_mapping_refuses_are_rejected_with_their_reason(stack, es):
    events = make_events(50, days=1, file_id=stack.prefix)

    def actions(sink: BulkSink, evs):
        out = sink.event_actions(evs)
        out[10]["_source"]["surprise"] = {"field": 1}  # unknown field: dynamic strict
        out[20]["_source"]["source"]["ip"] = "not-an-ip"  # wrong type for an ip field
        return out

    report = write(EsSettings(url=ES_URL, index_prefix=stack.prefix), actions, events)
    assert report.created == 48 and report.duplicates == 0
    reasons = {action["_id"]: reason for action, reason in report.rejected}
    assert set(reasons) == {events[10].event.id, events[20].event.id}
    assert "strict_dynamic_mapping_exception" in reasons[events[10].event.id]
    assert "surprise" in reasons[events[10].event.id]
    assert "source.ip" in reasons[events[20].event.id]
    assert count(es, f"{stack.prefix}-events-*") == 48
