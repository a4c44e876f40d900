"""Requests the server refuses: typed errors carrying an HTTP status and a plain message.

Parsers of client input (headers, bodies, paths, JSON) raise these; the dispatcher in
:mod:`.app` is the one place that turns them into a response ``{"error": message}`` (on
``/graphql``, but for a 401, also ``{"errors": [{"message": message}]}``, GraphQL's
shape). Any other exception is a fault of the server: HTTP 500 naming the exception's type
only, with the traceback in the server's log, so no Python repr reaches the client.

Example::

    raise BadRequest("Content-Length is not a number")   # -> HTTP 400
    raise PayloadTooLarge("request body exceeds 67108864 bytes")  # -> HTTP 413
"""

from __future__ import annotations


class RequestError(Exception):
    """A request refused with HTTP :attr:`status` and a message naming what is wrong."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(RequestError):
    """HTTP 400: the request is malformed (a header, path, body or field)."""

    status = 400


class Unauthorized(RequestError):
    """HTTP 401: no valid API key and no valid signature."""

    status = 401


class NotFound(RequestError):
    """HTTP 404: the path names nothing the server has."""

    status = 404


class PayloadTooLarge(RequestError):
    """HTTP 413: the body (as sent, or once decompressed) is above the route's limit."""

    status = 413
