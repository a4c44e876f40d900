"""HTTP layer: authentication, routing, and the one dispatch point where faults apply.

Routes:

- ``POST /graphql``: the W&B GraphQL API.
- ``POST /files/<entity>/<project>/<run>/file_stream``: a run's history/summary/logs.
- ``PUT /blobs/<md5>``, ``PUT /manifests/<id>``, ``PUT /runfiles/<run>/<name>``: uploads
  to the URLs the server handed out (signed for that method and path, expiring, so they
  need no API key; see :mod:`.signed_urls`).
- ``GET /blobs/<md5>[/<name>]``, ``GET /artifacts[V2]/.../<md5>[/<name>]``,
  ``GET /wandb_artifacts/<md5>/<name>`` (artifact files, under W&B's storage prefix):
  downloads.
- ``GET /healthz``; ``POST|DELETE /_local/faults``: test-only fault rules.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from graphql import GraphQLError

from . import pages
from .blobs import DigestMismatchError, is_md5_hex
from .faults import FaultAction, Faults
from .graphql_api import operation_name, parse_document, run_graphql
from .ids import decode_id
from .nodes import Context
from .request_body import (
    Body,
    BodyTooLargeError,
    MalformedBodyError,
    open_body,
    read_body,
)
from .signed_urls import UrlSigner
from .storage import Identity, Storage
from .validation import UserInputError

log = logging.getLogger(__name__)

#: Largest body accepted by non-upload routes (GraphQL, file_stream), decoded: 64 MiB.
MAX_BODY = 64 << 20


@dataclass
class RequestRecord:
    """One handled request, kept in :attr:`ServerState.requests` for tests to inspect."""

    method: str
    path: str
    route: str
    operation: str | None
    status: int
    duration_ms: float


@dataclass
class ServerState:
    """What every request handler shares."""

    storage: Storage
    api_key: str
    faults: Faults
    #: Signs the URLs handed out for uploads and downloads, and checks them.
    url_signer: UrlSigner
    #: Base of the URLs handed out (e.g. ``http://localhost:8080`` behind a port mapping);
    #: ``None``: the address the connection reached, never the request's ``Host`` header.
    public_url: str | None = None
    request_log: Path | None = None
    requests: collections.deque[RequestRecord] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )
    #: Further users: API key -> who that key authenticates (``api_key`` is the default user).
    users: dict[str, Identity] = field(default_factory=dict)


class _Dropped(Exception):
    """The fault plan asked to drop this connection."""


class Handler(BaseHTTPRequestHandler):
    """Request handler; the server instance carries the :class:`ServerState`."""

    protocol_version = "HTTP/1.1"
    server_version = "LocalWandb/1"
    state: ServerState  # set on the subclass made by :func:`make_http_server`

    # ---- plumbing ----------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        """The whole (decoded) body of a non-upload request, at most ``MAX_BODY`` bytes."""
        return read_body(self.headers, self.rfile, MAX_BODY)

    def _drain(self, limit: int | None = None) -> None:
        """Read and drop the body (its first ``limit`` bytes), one chunk at a time."""
        body = open_body(self.headers, self.rfile)
        seen = 0
        while (limit is None or seen < limit) and (chunk := body.read(1 << 20)):
            seen += len(chunk)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _authorized(self) -> bool:
        return self._caller_key() is not None

    def _caller_key(self) -> str | None:
        """The request's API key when the server knows it (the default or a user's)."""
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        key: str | None = None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value).decode()
            except (ValueError, UnicodeError):
                return None
            key = decoded.partition(":")[2]
        elif scheme.lower() == "bearer":
            key = value
        if key is None:
            return None
        if hmac.compare_digest(key, self.state.api_key) or key in self.state.users:
            return key
        return None

    def _signature_problem(self, path: str, query: str) -> str | None:
        """Why the URL's signature does not let this request's method reach ``path``
        (``None``: it does)."""
        return self.state.url_signer.problem(self.command, path, query)

    def _base_url(self) -> str:
        """Where clients reach this server: ``public_url``, else the address and port
        this connection reached (the kernel's word, unlike the ``Host`` header)."""
        if self.state.public_url:
            return self.state.public_url.rstrip("/")
        host, port = self.connection.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def _context(self) -> Context:
        base = self._base_url()
        url_signer = self.state.url_signer

        def signer(method: str, path: str) -> str:
            quoted = quote(path)  # signed as the request will name it
            return f"{base}{quoted}?{url_signer.query(method, quoted)}"

        key = self._caller_key()
        user = self.state.users.get(key) if key is not None else None
        return Context(storage=self.state.storage, base_url=base, signer=signer, user=user)

    # ---- dispatch ----------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_HEAD = do_DELETE = do_GET

    def _dispatch(self) -> None:
        start = time.perf_counter()
        self._status = 0
        split = urlsplit(self.path)
        path, query = split.path, split.query
        route = _route_kind(self.command, path)
        body = b""
        operation: str | None = None
        try:
            if route != "upload":
                body = self._read_body()
            if route == "graphql":
                try:
                    parsed = json.loads(body or b"{}")
                except ValueError:
                    parsed = {}
                operation = operation_name(parsed) if isinstance(parsed, dict) else None
            action = self.state.faults.take(route, operation)
            if self._apply_fault(action, route):
                return
            self._handle(route, path, query, body)
        except _Dropped:
            self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except (MalformedBodyError, BodyTooLargeError) as exc:
            self.close_connection = True  # the rest of the body is not read: no reuse
            if not self._status:
                status = 413 if isinstance(exc, BodyTooLargeError) else 400
                with contextlib.suppress(OSError):  # the client may have hung up already
                    self._send_json(status, {"error": f"bad request body: {exc}"})
        except Exception as exc:
            log.exception("request %s %s failed", self.command, path)
            if not self._status:
                self._send_json(500, {"error": f"local W&B server error: {exc!r}"})
        finally:
            self._record(path, route, operation, start)

    def _apply_fault(self, action: FaultAction, route: str) -> bool:
        if action.delay_s > 0:
            time.sleep(action.delay_s)
        if action.drop:
            if route == "upload":
                self._drain(limit=max(1, int(self.headers.get("Content-Length") or 2) // 2))
            raise _Dropped
        if action.status is not None:
            if route == "upload":
                self._drain()
            self._send_json(action.status, {"error": f"injected fault: HTTP {action.status}"})
            return True
        return False

    def _record(self, path: str, route: str, operation: str | None, start: float) -> None:
        rec = RequestRecord(
            self.command,
            path,
            route,
            operation,
            self._status,
            (time.perf_counter() - start) * 1000.0,
        )
        self.state.requests.append(rec)
        if self.state.request_log is not None:
            with self.state.request_log.open("a") as f:
                f.write(json.dumps(rec.__dict__) + "\n")

    def _handle(self, route: str, path: str, query: str, body: bytes) -> None:
        if path == "/healthz":
            self._send(200, b"ok", "text/plain")
            return
        if route == "otel":
            self._send(200, b"", "application/x-protobuf")
            return
        page = pages.render(self._context(), self.command, path, query)
        if page is not None:  # read-only HTML at W&B's URL shapes, no key (see pages.py)
            self._send(page.status, page.body.encode(), "text/html; charset=utf-8")
            return
        problem: str | None = "no signed route"
        if route in ("upload", "download"):
            problem = self._signature_problem(path, query)
        if problem is not None and not self._authorized():
            why = f" ({problem})" if "signature=" in query else ""
            self._send_json(401, {"error": f"unauthorized: missing or invalid API key{why}"})
            return
        if route == "graphql":
            self._graphql(body)
        elif route == "file_stream":
            self._file_stream(path, body)
        elif route == "upload":
            self._upload(path)
        elif route == "download":
            self._download(path)
        elif route == "faults":
            self._faults(body)
        else:
            self._send_json(404, {"error": f"local W&B server: no route for {self.command} {path}"})

    # ---- routes ------------------------------------------------------------------
    def _graphql(self, body: bytes) -> None:
        """Run a GraphQL request; a body that is no GraphQL request at all (not JSON, no
        ``query``, a document that does not parse, ``variables`` not an object) gets
        HTTP 400 with a message saying which."""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            self._send_json(400, {"errors": [{"message": "request body is not JSON"}]})
            return
        if not isinstance(payload, dict):
            self._send_json(400, {"errors": [{"message": "batched requests are not supported"}]})
            return
        problem = _malformed_graphql(payload)
        if problem is not None:
            self._send_json(400, {"errors": [{"message": f"malformed GraphQL request: {problem}"}]})
            return
        self._send_json(200, run_graphql(self._context(), payload))

    def _file_stream(self, path: str, body: bytes) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        entity, project, run_name = parts[1], parts[2], parts[3]
        storage = self.state.storage
        payload = json.loads(body or b"{}")
        run = storage.find_run(entity, project, run_name) or storage.upsert_run(
            entity, project, run_name, {}
        )
        for name, chunk in (payload.get("files") or {}).items():
            lines = chunk.get("content") or []
            storage.write_stream(run["id"], name, int(chunk.get("offset") or 0), list(lines))
        if payload.get("complete"):
            storage.finish_run(run["id"], int(payload.get("exitcode") or 0))
        self._send_json(200, {"exitcode": None, "limits": {}})

    def _upload(self, path: str) -> None:
        """Store an upload while it streams in (MD5 computed on the way); a body that is
        cut short, undecodable or not matching its digest stores nothing (HTTP 400)."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        storage = self.state.storage
        if parts[0] == "blobs":
            expected = parts[1] if len(parts) > 1 else ""
            if not is_md5_hex(expected):
                self._drain()
                self._send_json(400, {"error": "bad blob digest"})
                return
            try:
                storage.blobs.put_stream(self._body_stream(), None, expected)
            except DigestMismatchError as exc:
                self._send_json(400, {"error": str(exc)})
                return
        elif parts[0] == "manifests":
            md5_hex = storage.blobs.put_stream(self._body_stream(), None, None)
            pk = decode_id(parts[1], "ArtifactManifest")
            if pk is None or storage.manifest(pk) is None:
                self._send_json(404, {"error": "no such manifest"})
                return
            try:
                storage.manifest_uploaded(pk, md5_hex)
            except UserInputError as exc:
                self._send_json(400, {"error": str(exc)})
                return
        elif parts[0] == "runfiles":
            run_pk = int(parts[1])
            name = "/".join(parts[2:])
            md5_hex = storage.blobs.put_stream(self._body_stream(), None, None)
            size = storage.blobs.path(md5_hex).stat().st_size
            storage.record_run_file(run_pk, name, md5_hex, size)
        else:
            self._drain()
            self._send_json(404, {"error": f"no upload route for {path}"})
            return
        self._send(200, b"", "text/plain")

    def _body_stream(self) -> Body:
        return open_body(self.headers, self.rfile)

    def _download(self, path: str) -> None:
        """Send a stored file with ``sendfile`` (no copy through Python); a ``Range:
        bytes=a-b`` header gets that slice as ``206 Partial Content``, which the SDK's
        multipart download of files from 2 GiB on (or ``download(multipart=True)``) asks
        for, one request per 100 MiB part."""
        md5_hex = _digest_in_path(path)
        blobs = self.state.storage.blobs
        if md5_hex is None or not blobs.exists(md5_hex):
            self._send_json(404, {"error": f"file not found: {path}"})
            return
        file_path = blobs.path(md5_hex)
        size = file_path.stat().st_size
        span = _byte_range(self.headers.get("Range"), size)
        if span is None:
            self._send_json(416, {"error": f"unsatisfiable Range for {size} bytes"})
            return
        start, end = span
        partial = (start, end) != (0, size)
        self._status = 206 if partial else 200
        self.send_response(self._status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.send_header("ETag", f'"{md5_hex}"')
        self.end_headers()
        if self.command != "HEAD" and end > start:
            with file_path.open("rb") as f:
                self.connection.sendfile(f, offset=start, count=end - start)

    def _faults(self, body: bytes) -> None:
        faults = self.state.faults
        if self.command == "DELETE":
            faults.clear()
        else:
            spec = json.loads(body or b"{}")
            if "latency_ms" in spec:
                faults.latency_ms = float(spec["latency_ms"])
            if "operation" in spec:
                faults.add_from_json(spec)
        self._send_json(200, {"ok": True})


def _malformed_graphql(payload: dict[str, Any]) -> str | None:
    """Why ``payload`` is not a GraphQL request, or ``None`` when it is one."""
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        return "no 'query' string"
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return "'variables' must be a JSON object"
    document = parse_document(query)
    if isinstance(document, GraphQLError):
        return document.message
    return None


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` slice a ``Range`` header asks for; the whole file without
    one (or with a form this server does not serve, e.g. several ranges); ``None`` when
    it starts beyond the end.

    >>> _byte_range("bytes=10-19", 100), _byte_range("bytes=90-", 100)
    ((10, 20), (90, 100))
    >>> _byte_range("bytes=-5", 100), _byte_range(None, 100), _byte_range("bytes=200-", 100)
    ((95, 100), (0, 100), None)
    """
    unit, _, spec = (header or "").partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        return 0, size
    first, _, last = (part.strip() for part in spec.partition("-"))
    if not (first or last) or any(part and not part.isdigit() for part in (first, last)):
        return 0, size
    if not first:  # a suffix: the last N bytes
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:  # not a valid range: ignored (RFC 9110)
        return 0, size
    end = min(size, int(last) + 1) if last else size
    if start >= size:
        return None
    return start, end


def _route_kind(method: str, path: str) -> str:
    if path == "/graphql":
        return "graphql"
    if path.startswith("/files/") and path.endswith("/file_stream"):
        return "file_stream"
    if path.startswith("/sdk/otel/"):
        return "otel"
    if path.startswith("/_local/faults"):
        return "faults"
    if method == "PUT" and path.split("/")[1:2] in (["blobs"], ["manifests"], ["runfiles"]):
        return "upload"
    if method in ("GET", "HEAD") and path.split("/")[1:2] in (
        ["blobs"],
        ["artifacts"],
        ["artifactsV2"],
        ["wandb_artifacts"],
    ):
        return "download"
    return "other"


def _digest_in_path(path: str) -> str | None:
    """The MD5 hex named by a download path (``/blobs/<md5>/...`` or W&B's layouts)."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "blobs":
        return parts[1] if len(parts) > 1 and is_md5_hex(parts[1]) else None
    for candidate in reversed(parts[1:]):
        if is_md5_hex(candidate):
            return candidate
    return None


class LocalHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server with a deep listen backlog (the SDK opens many connections)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_http_server(host: str, port: int, state: ServerState) -> LocalHTTPServer:
    """Bind (port 0 picks a free one) and return a server that is not yet serving."""
    handler = type("BoundHandler", (Handler,), {"state": state})
    return LocalHTTPServer((host, port), handler)
