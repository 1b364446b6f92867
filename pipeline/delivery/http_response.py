"""The response side of delivery's HTTP client (pipeline.delivery.http): an HTTP/1.x response
parsed as its bytes arrive, within fixed limits; the body is read and dropped."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024  # status line and headers of a response
MAX_LINE_BYTES = 8 * 1024  # a chunk-size or trailer line
# ASCII only: str.isdigit() and int() also take other scripts' digits ("²", "١"), int(x, 16) a
# sign, "0x" and "_"; a negative chunk size would make _skip drop bytes from the buffer's end
_DIGITS = re.compile(r"[0-9]+")
_STATUS = re.compile(r"[0-9]{3}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class BadResponse(ConnectionError):
    """What came back is not an HTTP/1.x response."""


@dataclass(frozen=True)
class Response:
    """Status and headers (names lowercased; repeated ones joined by ", ") of a response."""

    status: int
    headers: dict[str, str]


class ResponseParser:
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
