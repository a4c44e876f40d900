"""Request bodies read as streams: ``Content-Length``, chunked and gzip bodies are decoded
while they are read, so an upload of any size is never held in memory.

Example::

    body = open_body(handler.headers, handler.rfile)
    while chunk := body.read(1 << 20):
        ...

A body that ends before the length it announced raises :class:`TruncatedBodyError`; one
that cannot be decoded raises :class:`MalformedBodyError` (both: HTTP 400); one above a
limit raises :class:`BodyTooLargeError` (HTTP 413).
"""

from __future__ import annotations

import zlib
from email.message import Message
from typing import Protocol


class MalformedBodyError(ValueError):
    """The body cannot be decoded as its headers announce (bad chunking or gzip)."""


class TruncatedBodyError(MalformedBodyError):
    """The connection delivered fewer bytes than the body announced."""


class BodyTooLargeError(ValueError):
    """The body is larger than the route accepts."""


class RawStream(Protocol):
    """The connection's buffered reader (``rfile``)."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


class Body(Protocol):
    """What every decoded body offers: ``read(n)`` returning ``b""`` at its end."""

    def read(self, size: int) -> bytes: ...


class _LengthBody:
    """Exactly ``length`` bytes of ``raw`` (``Content-Length``)."""

    def __init__(self, raw: RawStream, length: int) -> None:
        self._raw = raw
        self._length = length
        self._left = length

    def read(self, size: int) -> bytes:
        if self._left <= 0:
            return b""
        data = self._raw.read(min(size, self._left))
        if not data:
            raise TruncatedBodyError(
                f"request body ended after {self._length - self._left} of the "
                f"{self._length} bytes announced by Content-Length"
            )
        self._left -= len(data)
        return data


class _ChunkedBody:
    """A ``Transfer-Encoding: chunked`` body, decoded chunk by chunk."""

    def __init__(self, raw: RawStream) -> None:
        self._raw = raw
        self._left = 0
        self._done = False

    def _next_chunk(self) -> None:
        line = self._raw.readline(1024)
        if not line:
            raise TruncatedBodyError("chunked request body ended before its last chunk")
        try:
            self._left = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise MalformedBodyError(f"bad chunk size line {line[:40]!r}") from None
        if self._left < 0:
            raise MalformedBodyError(f"bad chunk size line {line[:40]!r}")
        if self._left == 0:
            while self._raw.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailer headers
            self._done = True

    def read(self, size: int) -> bytes:
        if self._done:
            return b""
        if self._left == 0:
            self._next_chunk()
            if self._done:
                return b""
        data = self._raw.read(min(size, self._left))
        if not data:
            raise TruncatedBodyError("chunked request body ended inside a chunk")
        self._left -= len(data)
        if self._left == 0:
            self._raw.readline(1024)  # the CRLF closing the chunk
        return data


class _GzipBody:
    """A ``Content-Encoding: gzip`` body, decompressed as it is read (never more than
    ``size`` bytes of output at once, so a small body cannot expand in memory)."""

    def __init__(self, inner: Body) -> None:
        self._inner = inner
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._finished = False

    def read(self, size: int) -> bytes:
        try:
            while not self._pending:
                if self._zlib.unconsumed_tail:
                    self._pending = self._zlib.decompress(self._zlib.unconsumed_tail, size)
                    continue
                if self._finished:
                    return b""
                compressed = self._inner.read(size)
                if compressed:
                    self._pending = self._zlib.decompress(compressed, size)
                    continue
                self._pending = self._zlib.flush()
                if not self._zlib.eof:
                    raise MalformedBodyError("gzip request body is incomplete")
                self._finished = True
        except zlib.error as exc:
            raise MalformedBodyError(f"gzip request body cannot be decoded: {exc}") from None
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def open_body(headers: Message, raw: RawStream) -> Body:
    """The decoded body of a request whose headers are ``headers``, read from ``raw``."""
    body: Body
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = _ChunkedBody(raw)
    else:
        try:
            length = int(headers.get("Content-Length") or 0)
        except ValueError:
            raise MalformedBodyError("Content-Length is not a number") from None
        if length < 0:
            raise MalformedBodyError("Content-Length is negative")
        body = _LengthBody(raw, length)
    if headers.get("Content-Encoding", "").lower() == "gzip":
        body = _GzipBody(body)
    return body


def read_body(headers: Message, raw: RawStream, limit: int) -> bytes:
    """The whole decoded body; raises :class:`BodyTooLargeError` beyond ``limit`` bytes."""
    announced = headers.get("Content-Length")
    if announced is not None and announced.strip().isdigit() and int(announced) > limit:
        raise BodyTooLargeError(f"request body of {announced} bytes exceeds {limit} bytes")
    body = open_body(headers, raw)
    parts: list[bytes] = []
    size = 0
    while chunk := body.read(1 << 16):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"request body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)
