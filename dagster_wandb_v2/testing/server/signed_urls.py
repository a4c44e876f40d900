"""Signed URLs: what lets a client upload or download one file without an API key, the
way W&B hands out object-store URLs.

A signature covers the HTTP method, the server path and an expiry time, so a URL handed
out for an upload (``PUT``) cannot download (``GET``), one for a file cannot reach another
file, and none works after it expires. The expiry is checked when a request starts: an
upload that began in time runs to its end however long it takes.

Example::

    signer = UrlSigner(b"secret", ttl_seconds=3600)
    url = "http://127.0.0.1:8080/blobs/<md5>?" + signer.query("PUT", "/blobs/<md5>")
    signer.problem("PUT", "/blobs/<md5>", urlsplit(url).query)   # None: accepted
    signer.problem("GET", "/blobs/<md5>", urlsplit(url).query)   # "... not for GET"
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlencode

from .validation import natural_number

#: How long a signed URL works by default: one day, so that the uploads of a large
#: artifact (the SDK asks for all its URLs up front) never outlive them.
DEFAULT_TTL_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class UrlSigner:
    """Signs server paths for one method and checks the signatures of requests.

    ``ttl_seconds``: how long a URL works after it is handed out; ``clock``: the time in
    seconds since the epoch (``time.time``).
    """

    secret: bytes
    ttl_seconds: float = DEFAULT_TTL_SECONDS
    clock: Callable[[], float] = field(default=time.time)

    def query(self, method: str, path: str) -> str:
        """The query string (``expires=...&signature=...``) that lets ``method`` reach
        ``path`` until ``ttl_seconds`` from now."""
        expires = int(self.clock() + self.ttl_seconds)
        return urlencode({"expires": expires, "signature": self._mac(method, path, expires)})

    def problem(self, method: str, path: str, query: str) -> str | None:
        """Why the signature in ``query`` does not let ``method`` reach ``path`` now, or
        ``None`` when it does. ``HEAD`` is allowed where ``GET`` is."""
        fields = parse_qs(query)
        signature = fields.get("signature", [""])[0]
        expires = fields.get("expires", [""])[0]
        expiry = natural_number(expires)
        if not signature or expiry is None:
            return "the URL is not signed"
        for signed_for in dict.fromkeys((_method(method), "PUT", "GET")):
            if hmac.compare_digest(signature, self._mac(signed_for, path, expiry)):
                if signed_for != _method(method):
                    return f"the URL is signed for {signed_for}, not for {method}"
                if expiry < self.clock():
                    return "the signed URL has expired"
                return None
        return "the signature does not cover this path"

    def _mac(self, method: str, path: str, expires: int) -> str:
        message = f"{_method(method)}\n{unquote(path)}\n{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def _method(method: str) -> str:
    return "GET" if method.upper() == "HEAD" else method.upper()
