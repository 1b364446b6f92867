"""The HTTP client of delivery: one POST per attempt over kept-alive HTTP/1.1 connections.

Why not aiohttp's ClientSession: a worker sends one request per notification, and each request
through ClientSession cost ~120 us of CPU (request and response objects, header multidicts,
trace hooks, timers, payload registry), three times one written as bytes to a kept-alive
connection and read back with a small parser (bench.delivery_latency). What a receiver needs is
small: a POST with exact body bytes and headers; the status and Retry-After back; no redirect
followed, no cookie, no proxy from the environment; TLS verified against the system's CAs.

- Connections are pooled per origin (scheme, host, port): an idle one is reused, most recent
  first; at most `keep` idle ones are kept per origin and none idle longer than `idle_seconds`
  (servers close idle connections: Node after 5 s, nginx and aiohttp after 75 s). The caller
  bounds the requests in flight (the deliverer's per-receiver `max_concurrency`).
- A request sent on a reused connection that the server had closed meanwhile (it ends before a
  byte of a response came back) is sent once more on a new connection: the server answered
  nothing, and a repeat carries the same webhook-id for a receiver to drop.
- The response (pipeline.delivery.http_response): a status line, headers (at most 64 KiB), then a body delimited by
  Content-Length, chunked coding, or the end of the connection; the body is read and dropped
  (delivery uses the status and headers only). Interim 1xx responses are skipped.
- Any failure closes the connection: one is never reused mid-response. Errors name the host and
  port, never the URL (a Slack webhook URL is a credential).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from pipeline.delivery.http_response import BadResponse, Response, ResponseParser

_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class InvalidURL(ValueError):
    """The receiver URL cannot be requested (not http(s), no host, bad port); a permanent error."""


class CannotConnect(ConnectionError):
    """No connection to the receiver's host (refused, unreachable, DNS, TLS handshake)."""


class ServerDisconnected(ConnectionError):
    """The receiver closed the connection before its response was complete."""


@dataclass(frozen=True)
class _Target:
    """A URL, parsed once: where to connect and the request's first lines."""

    origin: tuple[str, str, int]  # scheme, host, port
    where: str  # host:port, for error messages
    head: bytes  # request line, Host and, from the URL's user info, Authorization


class HttpClient:
    """Keep-alive HTTP/1.1 POSTs with a bounded pool of idle connections per origin."""

    def __init__(self, *, keep: int = 64, idle_seconds: float = 4.0) -> None:
        self.keep, self.idle_seconds = keep, idle_seconds
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._tls: ssl.SSLContext | None = None
        self._closed = False  # closed: a request that ends afterwards closes its connection

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every idle connection (those in use close when their request ends)."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def post(self, url: str, headers: dict[str, str], body: bytes, timeout: float) -> Response:
        """POST `body` with `headers`; the response's status and headers, within `timeout` seconds.

        Raises TimeoutError, InvalidURL (or ValueError for a header that cannot be sent),
        CannotConnect, ServerDisconnected or BadResponse."""
        target = self._target(url)
        request = target.head + _header_lines(headers, len(body)) + body
        async with asyncio.timeout(timeout):
            connection = self._reuse(target.origin)
            if connection is not None:
                try:
                    return self._done(target, connection, await connection.exchange(request))
                except _Unanswered:  # closed by the server while idle: once more, on a new connection
                    pass
                except BaseException:
                    connection.close()
                    raise
            connection = await self._connect(target)
            try:
                return self._done(target, connection, await connection.exchange(request))
            except _Unanswered:
                raise ServerDisconnected(f"{target.where} closed the connection without answering") from None
            except BaseException:
                connection.close()
                raise

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = _parse(url)
        return target

    def _reuse(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle, now = self._idle.get(origin), time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.idle_seconds:
                return connection
            connection.close()
        return None

    async def _connect(self, target: _Target) -> _Connection:
        scheme, host, port = target.origin
        loop = asyncio.get_running_loop()
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            _, connection = await loop.create_connection(
                _Connection, host, port, ssl=tls, server_hostname=host if tls else None
            )
        except OSError as exc:  # refused, unreachable, name not resolved, certificate refused
            raise CannotConnect(f"cannot connect to {target.where}: {exc.strerror or exc}") from None
        return connection

    def _done(self, target: _Target, connection: _Connection, response: tuple[Response, bool]) -> Response:
        answer, reusable = response
        if not reusable or connection.closed or self._closed:
            connection.close()
            return answer
        connection.idle_since = time.monotonic()
        idle = self._idle.setdefault(target.origin, [])
        idle.append(connection)
        if len(idle) > self.keep:
            idle.pop(0).close()
        return answer


class _Unanswered(Exception):
    """The connection ended before a byte of the response (the caller decides: retry or fail)."""


class _Connection(asyncio.Protocol):
    """One connection: a request written at once, its response parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser: ResponseParser | None = None
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send a request; (response, whether the connection may carry another)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise _Unanswered
        self._parser = ResponseParser()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = self._parser = None

    def data_received(self, data: bytes) -> None:
        waiter, parser = self._waiter, self._parser
        if waiter is None or parser is None or waiter.done():  # bytes nobody asked for: unusable
            self.close()
            return
        try:
            found = parser.feed(data)
        except BadResponse as exc:
            waiter.set_exception(exc)
            self.close()
            return
        except ValueError as exc:  # a number the checks let through: still not a usable response
            waiter.set_exception(BadResponse(f"malformed response: {exc}"))
            self.close()
            return
        if found is not None:
            waiter.set_result(found)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost settles the request in flight

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, parser = self._waiter, self._parser
        if waiter is None or parser is None or waiter.done():
            return
        found = parser.end()
        if found is not None:
            waiter.set_result(found)
        elif not parser.started:
            waiter.set_exception(_Unanswered())
        else:
            waiter.set_exception(ServerDisconnected("the receiver closed the connection mid-response"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _parse(url: str) -> _Target:
    """What a URL says about where and how to send (InvalidURL when it cannot be requested)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"receiver URL is not valid: {exc}") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise InvalidURL("receiver URL must be http:// or https:// with a host")
    port = port or (443 if scheme == "https" else 80)
    name = f"[{host}]" if ":" in host else (host if host.isascii() else host.encode("idna").decode("ascii"))
    authority = name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="/%:@!$&'()*+,;=?~")
    lines = [f"POST {target} HTTP/1.1", f"host: {authority}"]
    if parts.username is not None:  # user info in the URL: HTTP basic authentication, as aiohttp did
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        lines.append("authorization: Basic " + base64.b64encode(secret).decode("ascii"))
    head = "\r\n".join(lines) + "\r\n"
    return _Target((scheme, host, port), f"{name}:{port}", head.encode("latin-1"))


def _header_lines(headers: dict[str, str], length: int) -> bytes:
    """The caller's headers (not those this client writes itself), Content-Length, the blank line."""
    lines = []
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"request header {name[:40]!r} holds a line break or colon; refusing to send it")
        if name.lower() not in _OWN_HEADERS:
            lines.append(f"{name}: {value}\r\n")
    lines.append(f"content-length: {length}\r\n\r\n")
    return "".join(lines).encode("latin-1")
