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
- The response: a status line, headers (at most MAX_HEAD_BYTES), then a body delimited by
  Content-Length, chunked coding, or the end of the connection; the body is read and dropped
  (delivery uses the status and headers only). Interim 1xx responses are skipped.
- Any failure closes the connection: one is never reused mid-response. Errors name the host and
  port, never the URL (a Slack webhook URL is a credential).
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

MAX_HEAD_BYTES = 64 * 1024  # status line and headers of a response
MAX_LINE_BYTES = 8 * 1024  # a chunk-size or trailer line
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# ASCII only: str.isdigit() and int() also take other scripts' digits ("²", "١"), int(x, 16) a
# sign, "0x" and "_"; a negative chunk size would make _skip drop bytes from the buffer's end
_DIGITS = re.compile(r"[0-9]+")
_STATUS = re.compile(r"[0-9]{3}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class InvalidURL(ValueError):
    """The receiver URL cannot be requested (not http(s), no host, bad port); a permanent error."""


class CannotConnect(ConnectionError):
    """No connection to the receiver's host (refused, unreachable, DNS, TLS handshake)."""


class ServerDisconnected(ConnectionError):
    """The receiver closed the connection before its response was complete."""


class BadResponse(ConnectionError):
    """What came back is not an HTTP/1.x response."""


@dataclass(frozen=True)
class Response:
    """Status and headers (names lowercased; repeated ones joined by ", ") of a response."""

    status: int
    headers: dict[str, str]


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
        self._parser: _ResponseParser | None = None
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send a request; (response, whether the connection may carry another)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise _Unanswered
        self._parser = _ResponseParser()
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


class _ResponseParser:
    """An HTTP/1.x response, fed as bytes arrive; `feed` returns (response, reusable) once complete.

    Each step consumes what it can from the buffer and returns whether to go on: head, then the
    body by length, by chunks (size line, data, trailer) or until the connection closes."""

    def __init__(self) -> None:
        self.started = False
        self._buffer = bytearray()
        self._response: Response | None = None
        self._reusable = False
        self._step: Callable[[], bool] | None = self._head  # None: complete
        self._left = 0

    def feed(self, data: bytes) -> tuple[Response, bool] | None:
        self.started = True
        self._buffer += data
        while self._step is not None:
            if not self._step():
                return None
        assert self._response is not None
        return self._response, self._reusable and not self._buffer  # bytes beyond it: unusable

    def end(self) -> tuple[Response, bool] | None:
        """The connection ended: a complete response when its body runs until the end."""
        if self._step == self._until_close and self._response is not None:
            return self._response, False
        return None

    def _head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end > MAX_HEAD_BYTES or (end < 0 and len(self._buffer) > MAX_HEAD_BYTES):
            raise BadResponse(f"response headers longer than {MAX_HEAD_BYTES} bytes")
        if end < 0:
            return False
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        version, status = _status_line(lines[0])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadResponse(f"malformed response header line {line[:80]!r}")
            name, value = name.lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200:
            if status == 101:
                raise BadResponse("the receiver switched protocols (101) on a POST")
            return True  # an interim response: the final one follows
        self._response = Response(status, headers)
        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        self._reusable = "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
        self._step = self._body_step(status, headers)
        return True

    def _body_step(self, status: int, headers: dict[str, str]) -> Callable[[], bool] | None:
        if status in (204, 304):
            return None
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
                return self._chunk_size
            self._reusable = False
            return self._until_close
        length = headers.get("content-length")
        if length is None:
            self._reusable = False
            return self._until_close
        values = {v.strip() for v in length.split(",")}
        if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
            raise BadResponse(f"bad Content-Length {length[:40]!r}")
        self._left = int(values.pop())
        return self._length

    def _length(self) -> bool:
        if not self._skip():
            return False
        self._step = None
        return True

    def _chunk_size(self) -> bool:
        line = self._line()
        if line is None:
            return False
        size = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size):
            raise BadResponse(f"bad chunk size {size[:20]!r}")
        self._left = int(size, 16)
        if self._left:
            self._left += 2  # the chunk's data, then its CRLF
            self._step = self._chunk_data
        else:
            self._step = self._trailer
        return True

    def _chunk_data(self) -> bool:
        if not self._skip():
            return False
        self._step = self._chunk_size
        return True

    def _trailer(self) -> bool:
        line = self._line()
        if line is None:
            return False
        if not line:
            self._step = None
        return True

    def _until_close(self) -> bool:
        self._buffer.clear()  # the body runs until the connection ends (see `end`)
        return False

    def _skip(self) -> bool:
        """Drop up to `_left` body bytes; True once all of them came."""
        taken = min(self._left, len(self._buffer))
        del self._buffer[:taken]
        self._left -= taken
        return not self._left

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise BadResponse(f"a chunked-coding line longer than {MAX_LINE_BYTES} bytes")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line


def _status_line(line: str) -> tuple[str, int]:
    version, _, rest = line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not _STATUS.fullmatch(code) or rest[3:4] not in ("", " "):
        raise BadResponse(f"not an HTTP/1.x status line: {line[:80]!r}")
    return version, int(code)


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
