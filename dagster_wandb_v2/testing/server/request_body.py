"""Request bodies read as streams: ``Content-Length``, chunked and gzip bodies are decoded
while they are read, so an upload of any size is never held in memory.

Example::

    body = open_body(handler.headers, handler.rfile)
    while chunk := body.read(1 << 20):
        ...

A body that ends before the length it announced raises :class:`TruncatedBodyError`; one
whose headers or bytes cannot be decoded raises :class:`MalformedBodyError` (both: HTTP
400); one in a coding this server does not decode raises :class:`UnsupportedEncodingError`
(HTTP 415); one above a limit, as sent or once decompressed, raises
:class:`BodyTooLargeError` (HTTP 413) as soon as the limit is passed, so a small gzip
body that would inflate to gigabytes costs at most ``limit`` bytes of work.
"""

from __future__ import annotations

import re
import zlib
from email.message import Message
from typing import Protocol

from .http_errors import BadRequest, PayloadTooLarge, RequestError


class MalformedBodyError(BadRequest):
    """The body cannot be decoded as its headers announce (bad length, chunking or gzip)."""


class TruncatedBodyError(MalformedBodyError):
    """The connection delivered fewer bytes than the body announced."""


class BodyTooLargeError(PayloadTooLarge):
    """The body is larger than the route accepts."""


class UnsupportedEncodingError(RequestError):
    """HTTP 415: a ``Content-Encoding`` or ``Transfer-Encoding`` other than gzip/chunked."""

    status = 415


_DIGITS = re.compile(r"[0-9]{1,19}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_TRAILERS = 64


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
        size = line.split(b";")[0].strip()
        if not _HEX.fullmatch(size):
            shown = line[:40].decode("latin-1").strip()
            raise MalformedBodyError(f"bad chunk size line {shown!r}")
        self._left = int(size, 16)
        if self._left == 0:
            for _ in range(_MAX_TRAILERS):
                if self._raw.readline(1024) in (b"\r\n", b"\n", b""):
                    break
            else:
                raise MalformedBodyError(f"more than {_MAX_TRAILERS} chunked trailer lines")
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
                if self._zlib.eof and self._zlib.unused_data:  # a next member (RFC 1952)
                    rest = self._zlib.unused_data
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._pending = self._zlib.decompress(rest, size)
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


class _CappedBody:
    """At most ``limit`` bytes of ``inner``; one more raises :class:`BodyTooLargeError`."""

    def __init__(self, inner: Body, limit: int, what: str) -> None:
        self._inner = inner
        self._limit = limit
        self._what = what
        self._seen = 0

    def read(self, size: int) -> bytes:
        data = self._inner.read(size)
        self._seen += len(data)
        if self._seen > self._limit:
            raise BodyTooLargeError(f"request body exceeds {self._limit} bytes{self._what}")
        return data


def content_length(headers: Message) -> int | None:
    """The ``Content-Length`` header as a number, ``None`` without one.

    Raises :class:`MalformedBodyError` unless it is one decimal number (RFC 9110: no sign,
    no spaces inside, several headers only if equal).

    >>> from email.message import Message
    >>> m = Message(); m["Content-Length"] = "12"; content_length(m)
    12
    """
    values = {v.strip() for v in headers.get_all("Content-Length") or []}
    if not values:
        return None
    if len(values) > 1:
        raise MalformedBodyError("several different Content-Length headers")
    (value,) = values
    if value.startswith("-") and _DIGITS.fullmatch(value[1:]):
        raise MalformedBodyError(f"Content-Length is negative: {value[:20]!r}")
    if not _DIGITS.fullmatch(value):
        raise MalformedBodyError(f"Content-Length is not a number: {value[:20]!r}")
    return int(value)


def is_chunked(headers: Message) -> bool:
    """Whether the body is sent ``Transfer-Encoding: chunked`` (the only coding served).

    Raises :class:`UnsupportedEncodingError` for any other transfer coding.
    """
    coding = headers.get("Transfer-Encoding", "").strip().lower()
    if coding in ("", "chunked"):
        return coding == "chunked"
    raise UnsupportedEncodingError(
        f"Transfer-Encoding {coding[:40]!r} is not supported (only 'chunked')"
    )


def _is_gzip(headers: Message) -> bool:
    coding = headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity", "gzip", "x-gzip"):
        return coding in ("gzip", "x-gzip")
    raise UnsupportedEncodingError(
        f"Content-Encoding {coding[:40]!r} is not supported (only 'gzip')"
    )


def open_body(headers: Message, raw: RawStream, limit: int | None = None) -> Body:
    """The decoded body of a request whose headers are ``headers``, read from ``raw``.

    With ``limit``, reading more than ``limit`` bytes, as sent or once decompressed,
    raises :class:`BodyTooLargeError`; an announced ``Content-Length`` above it raises at
    once, before any byte is read. Malformed headers raise :class:`MalformedBodyError`.
    """
    body: Body
    if is_chunked(headers):
        body = _ChunkedBody(raw)
    else:
        length = content_length(headers) or 0
        if limit is not None and length > limit:
            raise BodyTooLargeError(f"request body of {length} bytes exceeds {limit} bytes")
        body = _LengthBody(raw, length)
    gzipped = _is_gzip(headers)
    if limit is not None:
        body = _CappedBody(body, limit, "")
    if gzipped:
        body = _GzipBody(body)
        if limit is not None:
            body = _CappedBody(body, limit, " once decompressed")
    return body


def read_body(headers: Message, raw: RawStream, limit: int) -> bytes:
    """The whole decoded body; raises :class:`BodyTooLargeError` beyond ``limit`` bytes
    (as sent or decompressed)."""
    body = open_body(headers, raw, limit)
    parts: list[bytes] = []
    while chunk := body.read(1 << 16):
        parts.append(chunk)
    return b"".join(parts)
