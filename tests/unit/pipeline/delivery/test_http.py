"""The delivery HTTP client against real servers on loopback: an aiohttp server, and a raw TCP
server that answers with scripted bytes (chunked, close-delimited, interim, HTTP/1.0, broken)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import ssl

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipeline.delivery.http import BadResponse, CannotConnect, HttpClient, InvalidURL, ServerDisconnected
from pipeline.delivery.http_response import MAX_HEAD_BYTES, ResponseParser
from tests.unit.pipeline.delivery.loopback import LoopbackReceiver


class Scripted:
    """A TCP server whose n-th request (over all connections) gets answers[n], then, if the answer
    says so, the connection is closed. Records each request's head and body."""

    def __init__(self, answers: list[tuple[bytes, bool]]) -> None:
        self.answers, self.connections = answers, 0
        self.requests: list[tuple[bytes, bytes]] = []

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?x=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                self.requests.append((head, await reader.readexactly(length)))
                answer, close = self.answers[len(self.requests) - 1]
                writer.write(answer)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def run(coro):
    return asyncio.run(coro)


def test_posts_the_exact_body_and_headers_and_reuses_the_connection():
    async def go():
        async with Scripted([(OK, False)] * 3) as server, HttpClient() as client:
            for i in range(3):
                response = await client.post(server.url, {"webhook-id": f"ntf_{i}"}, b'{"n":%d}' % i, 5)
                assert response.status == 200
            return server

    server = run(go())
    assert server.connections == 1 and len(server.requests) == 3
    head, body = server.requests[2]
    assert head.startswith(b"POST /hook?x=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\nwebhook-id: ntf_2\r\n" in head and b"\r\ncontent-length: 7\r\n" in head and body == b'{"n":2}'


async def two_posts(script):
    """The statuses of two POSTs to a server answering `script`, and the connections it saw."""
    async with Scripted(script) as server, HttpClient() as client:
        statuses = [(await client.post(server.url, {}, b"x", 5)).status for _ in range(2)]
        return statuses, server.connections


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
)
def test_chunked_interim_and_empty_responses_leave_the_connection_reusable(answer):
    statuses, connections = run(two_posts([(answer, False), (OK, False)]))
    assert statuses[1] == 200 and statuses[0] in (200, 204) and connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\n\r\nbody until the end",  # no length: the body ends with the connection
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",  # HTTP/1.0 without keep-alive
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    ],
)
def test_responses_that_end_the_connection_are_complete_and_not_reused(answer):
    assert run(two_posts([(answer, True), (OK, False)])) == ([200, 200], 2)


def test_a_kept_connection_the_server_closed_is_dropped_and_an_unanswered_request_sent_once_more():
    async def go():
        # 1st: answered, then closed (seen closed before the next request: not reused);
        # 2nd: answered and kept; 3rd: read, then the connection closed without an answer
        # (the server's idle timeout racing the request): sent again on a new connection
        script = [(OK, True), (OK, False), (b"", True), (OK, False)]
        async with Scripted(script) as server, HttpClient() as client:
            statuses = []
            for body in (b"1", b"2", b"3"):
                statuses.append((await client.post(server.url, {}, body, 5)).status)
                await asyncio.sleep(0.1)
            return statuses, server.connections, [b for _, b in server.requests]

    assert run(go()) == ([200, 200, 200], 3, [b"1", b"2", b"3", b"3"])


def test_an_unanswered_request_on_a_new_connection_is_not_sent_twice():
    async def go():
        async with Scripted([(b"", True), (OK, False)]) as server, HttpClient() as client:
            with pytest.raises(ServerDisconnected, match="without answering"):
                await client.post(server.url, {}, b"x", 5)
            return len(server.requests)

    assert run(go()) == 1


def test_status_and_retry_after_come_back_from_a_real_server():
    limited = LoopbackReceiver(behaviour="ratelimit", fail=1, retry_after=7)
    try:

        async def go():
            async with HttpClient() as client:
                return [await client.post(limited.url, {"a": "b"}, b"{}", 5) for _ in range(2)]

        first, second = run(go())
    finally:
        limited.close()
    assert (first.status, first.headers["retry-after"], second.status) == (429, "7", 200)


def test_user_info_in_the_url_becomes_basic_authentication():
    async def go():
        async with Scripted([(OK, False)]) as server, HttpClient() as client:
            await client.post(f"http://bot:s%40cret@127.0.0.1:{server.port}/", {}, b"x", 5)
            return server.requests[0][0]

    head = run(go())
    assert b"authorization: Basic " + base64.b64encode(b"bot:s@cret") + b"\r\n" in head and b"bot" not in head[:20]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SMTP ready\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", ServerDisconnected),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", BadResponse),
        # digits of other scripts pass str.isdigit() but not int(); only ASCII ones are numbers
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nok", BadResponse),
        (b"HTTP/1.1 \xb9\xb2\xb3 OK\r\nContent-Length: 0\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"1" * 5000 + b"\r\n\r\n", BadResponse),  # int() refuses it
        # chunk sizes int(x, 16) would take: a sign (a negative one dropped buffered bytes), 0x, _
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n0\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabcdefghijkl\r\n0\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\na\r\n0\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n", BadResponse),
    ],
)
def test_broken_or_cut_responses_raise_connection_errors(answer, error):
    async def go():
        async with Scripted([(answer, True)]) as server, HttpClient() as client:
            await client.post(server.url, {}, b"x", 5)

    with pytest.raises(error):
        run(go())
    assert issubclass(error, ConnectionError)  # classified as retry by pipeline.delivery.retry


def test_a_slow_receiver_times_out_and_a_closed_port_cannot_connect():
    slow = LoopbackReceiver(behaviour="slow", delay=0.8)
    down = LoopbackReceiver(behaviour="down")
    try:

        async def go():
            async with HttpClient() as client:
                with pytest.raises(TimeoutError):
                    await client.post(slow.url, {}, b"x", 0.3)
                with pytest.raises(CannotConnect, match="127.0.0.1"):
                    await client.post(down.url, {}, b"x", 5)

        run(go())
    finally:
        slow.close()
        down.close()


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("ftp://example.invalid/x", {}),
        ("http:///nohost", {}),
        ("http://127.0.0.1:99999/x", {}),
        ("http://127.0.0.1:9/x", {"x-evil": "a\r\nhost: elsewhere"}),
    ],
)
def test_urls_and_headers_that_cannot_be_sent_are_value_errors(url, headers):
    async def go():
        async with HttpClient() as client:
            await client.post(url, headers, b"x", 5)

    with pytest.raises(ValueError) as caught:
        run(go())
    assert not headers or not isinstance(caught.value, InvalidURL)


def test_concurrent_requests_to_an_aiohttp_server_each_get_their_answer():
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(0.01)
        return web.Response(status=200 + int(body) % 3)

    async def go():
        app = web.Application()
        app.router.add_post("/hook", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with HttpClient(keep=4) as client:
                url = f"http://127.0.0.1:{port}/hook"
                answers = await asyncio.gather(*[client.post(url, {}, b"%d" % i, 5) for i in range(40)])
                idle = sum(len(c) for c in client._idle.values())
        finally:
            await runner.cleanup()
        return [a.status for a in answers], idle

    statuses, idle = run(go())
    assert statuses == [200 + i % 3 for i in range(40)] and idle == 4


def test_a_head_longer_than_the_limit_is_refused_even_when_it_arrives_whole():
    head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(BadResponse, match="longer than"):
        ResponseParser().feed(head)
    fits = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES - 100) + b"\r\nContent-Length: 0\r\n\r\n"
    assert ResponseParser().feed(fits) is not None


def test_a_request_in_flight_when_the_client_closes_does_not_pool_its_connection():
    async def go():
        closed_by_client = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(1)
            await asyncio.sleep(0.2)
            writer.write(OK)
            await writer.drain()
            if await reader.read(1) == b"":  # the client closed the connection
                closed_by_client.set()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = HttpClient()
        request = asyncio.create_task(client.post(f"http://127.0.0.1:{port}/", {}, b"x", 5))
        await asyncio.sleep(0.05)
        client.close()
        status = (await request).status
        await asyncio.wait_for(closed_by_client.wait(), 2)
        server.close()
        return status, client._idle

    assert run(go()) == (200, {})


# TLS: the client verifies the receiver's certificate and name against the trusted CAs


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject_key, subject: str, issuer_key, issuer: str, *, ca: bool, names: list[x509.GeneralName]):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if ca:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, cert, key=None) -> str:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    path.write_bytes(data)
    return str(path)


async def _tls_server(chain: str) -> asyncio.Server:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(1)
            writer.write(OK)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client refused the handshake
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)


def test_a_self_signed_receiver_certificate_is_refused(tmp_path):
    key = _key()
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    chain = _write(tmp_path / "self.pem", _cert(key, "localhost", key, "localhost", ca=False, names=names), key)

    async def go():
        server = await _tls_server(chain)
        port = server.sockets[0].getsockname()[1]
        try:
            async with HttpClient() as client:
                with pytest.raises(CannotConnect, match="certificate verify failed"):
                    await client.post(f"https://127.0.0.1:{port}/", {}, b"x", 5)
        finally:
            server.close()

    run(go())


def test_a_certificate_from_a_trusted_ca_is_accepted_only_for_its_own_name(tmp_path, monkeypatch):
    ca_key, leaf_key = _key(), _key()
    ca = _cert(ca_key, "secmon test CA", ca_key, "secmon test CA", ca=True, names=[])
    leaf = _cert(leaf_key, "localhost", ca_key, "secmon test CA", ca=False, names=[x509.DNSName("localhost")])
    chain = _write(tmp_path / "leaf.pem", leaf, leaf_key)
    monkeypatch.setenv("SSL_CERT_FILE", _write(tmp_path / "ca.pem", ca))  # ssl.create_default_context reads it

    async def go():
        server = await _tls_server(chain)
        port = server.sockets[0].getsockname()[1]
        try:
            async with HttpClient() as client:  # a fresh client: its SSLContext is made with the CA trusted
                with pytest.raises(CannotConnect, match="mismatch"):
                    await client.post(f"https://127.0.0.1:{port}/", {}, b"x", 5)
                return (await client.post(f"https://localhost:{port}/", {}, b"x", 5)).status
        finally:
            server.close()

    assert run(go()) == 200
