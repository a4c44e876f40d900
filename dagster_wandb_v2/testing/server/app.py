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

Client input the server cannot serve is refused with a 4xx naming what is wrong (see
:mod:`.http_errors`); sizes, idle time and connections are bounded (see :mod:`.limits`).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hmac
import json
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from . import pages
from .blobs import DigestMismatchError, is_md5_hex
from .faults import FaultAction, Faults, FaultSpecError
from .graphql_api import PreparedQuery, operation_name, prepare_query, run_graphql
from .http_errors import BadRequest, NotFound, RequestError, Unauthorized
from .ids import decode_id
from .limits import Limits
from .nodes import Context
from .request_body import (
    MalformedBodyError,
    content_length,
    is_chunked,
    open_body,
    read_body,
)
from .route_inputs import file_stream_target, file_stream_update, json_object, run_file_target
from .signed_urls import UrlSigner
from .storage import Identity, Storage
from .validation import UserInputError, natural_number

log = logging.getLogger(__name__)


@dataclass
class RequestRecord:
    """One handled request, kept in :attr:`ServerState.requests` for tests to inspect."""

    method: str
    path: str
    route: str
    operation: str | None
    status: int
    duration_ms: float
    started_at: float = 0.0
    """Wall-clock time (Unix seconds) the request arrived: with ``duration_ms``, where a
    client spent its time between requests."""


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
    #: Requests handled since the start, unlike ``len(requests)``, which stops growing.
    handled: int = 0
    requests_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Handlers whose answer has started but whose request is not recorded yet (their
    #: client may already hold the answer); readers of the records wait for them.
    answering: set[int] = field(default_factory=set)
    answered: threading.Condition = field(default_factory=threading.Condition)
    #: Further users: API key -> who that key authenticates (``api_key`` is the default user).
    users: dict[str, Identity] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


class _Dropped(Exception):
    """The fault plan asked to drop this connection."""


class Handler(BaseHTTPRequestHandler):
    """Request handler; the server instance carries the :class:`ServerState`.

    Order of work for every request: route from the request line, authentication from
    the headers alone (API key, or an upload/download URL's signature), then the body,
    read within :class:`~.limits.Limits`, then fault rules, then the route. A request
    without a valid key costs no body decoding, no parsing and no fault rule.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """``TCP_NODELAY`` on every connection, as W&B's servers (Go's default) have: without
    it a response's body waits for the client's delayed ACK of its headers, ~40 ms a
    request on Linux (socketserver's ``StreamRequestHandler``)."""
    server_version = "LocalWandb/1"
    state: ServerState  # set on the subclass made by :func:`make_http_server`

    # ---- plumbing ----------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        """The whole decoded body of a non-upload request, within ``max_body_bytes``."""
        body = read_body(self.headers, self.rfile, self.state.limits.max_body_bytes)
        self._body_done = True
        return body

    def _drain(self, limit: int | None = None) -> None:
        """Read and drop the body (its first ``limit`` bytes), one chunk at a time."""
        body = open_body(self.headers, self.rfile)
        seen = 0
        while (limit is None or seen < limit) and (chunk := body.read(1 << 20)):
            seen += len(chunk)
        self._body_done = limit is None

    def _body_announced(self) -> bool:
        """Whether the headers announce a body (they may be malformed: then also yes)."""
        if "Transfer-Encoding" in self.headers:
            return True
        return self.headers.get("Content-Length", "0").strip() not in ("", "0")

    def _drop_small_body(self) -> None:
        """Before refusing a request unread: read and drop a body small enough, as sent
        (no decoding), so the connection stays usable; otherwise close it afterwards."""
        try:
            length = None if "Transfer-Encoding" in self.headers else content_length(self.headers)
        except MalformedBodyError:
            length = None
        limit = self.state.limits.unauthenticated_drain_bytes
        if length is not None and length <= limit:
            self.rfile.read(length)
            self._body_done = True

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if not self._body_done:  # the rest of the body is not read: the connection ends
            self.close_connection = True
            self.send_header("Connection", "close")
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
        if hmac.compare_digest(key.encode(), self.state.api_key.encode()):
            return key
        return key if key in self.state.users else None

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

    def _access_problem(self, route: str, path: str, query: str) -> str | None:
        """Why this request may not be served (``None``: the headers carry a valid key, or
        the URL a valid signature for this method and path)."""
        if self._authorized():
            return None
        if route not in ("upload", "download"):
            return _UNAUTHORIZED
        problem = self._signature_problem(path, query)
        if problem is None:
            return None
        return f"{_UNAUTHORIZED} ({problem})" if "signature=" in query else _UNAUTHORIZED

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
    def end_headers(self) -> None:
        # Counted before the headers leave: a client holding an answer always finds its
        # request recorded (see ``ServerState.answering``).
        with self.state.answered:
            self.state.answering.add(id(self))
        super().end_headers()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            with self.state.answered:
                self.state.answering.discard(id(self))
                self.state.answered.notify_all()

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_HEAD = do_DELETE = do_GET

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``: invite the body only from a caller with a valid key
        or signature; others get their 401 before sending it."""
        split = urlsplit(self.path)
        route = _route_kind(self.command, split.path)
        if route in _OPEN_ROUTES or self._access_problem(route, split.path, split.query) is None:
            return super().handle_expect_100()
        self._body_done = False
        self._status = 0
        with contextlib.suppress(OSError):
            self._send_json(401, {"error": _UNAUTHORIZED})
        self.close_connection = True
        return False

    def _dispatch(self) -> None:
        start = time.perf_counter()
        self._status = 0
        self._body_done = not self._body_announced()
        self._operation: str | None = None
        self._cut_download = False
        split = urlsplit(self.path)
        path, query = split.path, split.query
        route = _route_kind(self.command, path)
        try:
            self._serve(route, path, query)
        except (_Dropped, ConnectionError, TimeoutError):
            self.close_connection = True
        except RequestError as exc:
            if not self._status:
                payload: dict[str, Any] = {"error": exc.message}
                if route == "graphql" and not isinstance(exc, Unauthorized):
                    # also in GraphQL's shape; a 401 keeps the plain shape, whose status
                    # the wandb SDK then reports ("returned error 401")
                    payload["errors"] = [{"message": exc.message}]
                with contextlib.suppress(OSError):  # the client may have hung up already
                    self._send_json(exc.status, payload)
            self.close_connection = self.close_connection or not self._body_done
        except Exception as exc:
            log.exception("request %s %s failed", self.command, path)
            if not self._status:
                message = (
                    f"internal error of the local W&B server ({type(exc).__name__}) "
                    f"handling {self.command} {path[:200]}; the traceback is in its log"
                )
                with contextlib.suppress(OSError):
                    self._send_json(500, {"error": message})
            self.close_connection = True
        finally:
            self._record(path, route, self._operation, start)

    def _serve(self, route: str, path: str, query: str) -> None:
        if route == "healthz":
            self._send(200, b"ok", "text/plain")
            return
        if route == "otel":
            # W&B's OpenTelemetry proxy: the wandb SDK (Python and wandb-core) probes it and
            # sends no telemetry to a server answering 404 or 405, which is how a server
            # says it does not take telemetry (opentelemetry_proxy.py,
            # core/internal/analytics/opentelemetryproxy.go). This one stores none.
            self._drop_small_body()
            raise NotFound(_NO_TELEMETRY)
        page = pages.render(self._context(), self.command, path, query)
        if page is not None:  # read-only HTML at W&B's URL shapes, no key (see pages.py)
            self._send(page.status, page.body.encode(), "text/html; charset=utf-8")
            return
        problem = self._access_problem(route, path, query)
        if problem is not None:
            self._drop_small_body()
            raise Unauthorized(problem)
        body = self._read_body() if route in _BODY_ROUTES else b""
        payload: dict[str, Any] = {}
        prepared: PreparedQuery | None = None
        if route == "graphql":
            payload, prepared = _graphql_request(body)
            self._operation = operation_name(payload, prepared)
        if route != "faults":  # the faults' own route is never faulted
            action = self.state.faults.take(route, self._operation)
            if self._apply_fault(action, route):
                return
        if route == "graphql":
            self._send_json(200, run_graphql(self._context(), payload, prepared))
        elif route == "file_stream":
            self._file_stream(path, body)
        elif route == "upload":
            self._upload(path)
        elif route == "download":
            self._download(path)
        elif route == "faults":
            self._faults(body)
        else:
            raise NotFound(f"local W&B server: no route for {self.command} {path[:200]}")

    def _apply_fault(self, action: FaultAction, route: str) -> bool:
        if action.delay_s > 0:
            time.sleep(action.delay_s)
        if action.drop:
            if route == "download":  # cut mid-body: :meth:`_download` sends half of it
                self._cut_download = True
                return False
            if route == "upload":
                announced = content_length(self.headers) if not is_chunked(self.headers) else None
                self._drain(limit=max(1, (announced or 2) // 2))
            raise _Dropped
        if action.status is not None:
            if route == "upload":
                self._drain()
            self._send_json(action.status, {"error": f"injected fault: HTTP {action.status}"})
            return True
        return False

    def _record(self, path: str, route: str, operation: str | None, start: float) -> None:
        elapsed = time.perf_counter() - start
        rec = RequestRecord(
            self.command,
            path,
            route,
            operation,
            self._status,
            elapsed * 1000.0,
            time.time() - elapsed,
        )
        with self.state.requests_lock:
            self.state.requests.append(rec)
            self.state.handled += 1
        if self.state.request_log is not None:
            with self.state.request_log.open("a") as f:
                f.write(json.dumps(rec.__dict__) + "\n")

    # ---- routes ------------------------------------------------------------------
    def _file_stream(self, path: str, body: bytes) -> None:
        entity, project, run_name = file_stream_target(path)
        update = file_stream_update(json_object(body, "file_stream request"))
        storage = self.state.storage
        run = storage.find_run(entity, project, run_name) or storage.upsert_run(
            entity, project, run_name, {}
        )
        for chunk in update.chunks:
            storage.write_stream(run["id"], chunk.name, chunk.offset, chunk.lines)
        if update.complete:
            storage.finish_run(run["id"], update.exitcode)
        self._send_json(200, {"exitcode": None, "limits": {}})

    def _upload(self, path: str) -> None:
        """Store an upload while it streams in (MD5 computed on the way); a body that is
        cut short, undecodable or not matching its digest stores nothing (HTTP 400). The
        target is checked before the body is read."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        storage = self.state.storage
        if parts[0] == "blobs":
            expected = parts[1] if len(parts) > 1 else ""
            if not is_md5_hex(expected):
                raise BadRequest(f"bad blob digest {expected[:40]!r}: expected 32 hex digits")
            self._store_body(expected)
        elif parts[0] == "manifests":
            pk = decode_id(parts[1], "ArtifactManifest") if len(parts) > 1 else None
            if pk is None or storage.manifest(pk) is None:
                raise NotFound(f"no such artifact manifest: {path[:200]}")
            md5_hex = self._store_body(None)
            try:
                storage.manifest_uploaded(pk, md5_hex)
            except UserInputError as exc:
                raise BadRequest(str(exc)) from None
        elif parts[0] == "runfiles":
            run_pk, name = run_file_target(path)
            if storage.run_by_id(run_pk) is None:
                raise NotFound(f"no run {run_pk} for the upload {path[:200]}")
            md5_hex = self._store_body(None)
            size = storage.blobs.path(md5_hex).stat().st_size
            storage.record_run_file(run_pk, name, md5_hex, size)
        else:
            raise NotFound(f"no upload route for {path[:200]}")
        self._send(200, b"", "text/plain")

    def _store_body(self, expected_md5_hex: str | None) -> str:
        """Store the body as a blob (see :meth:`BlobStore.put_stream`); its MD5 hex."""
        body = open_body(self.headers, self.rfile)
        try:
            md5_hex = self.state.storage.blobs.put_stream(body, None, expected_md5_hex)
        except DigestMismatchError as exc:
            self._body_done = True  # read to its end: the connection can serve another
            raise BadRequest(str(exc)) from None
        self._body_done = True
        return md5_hex

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
        if not self._body_done:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and end > start:
            count = end - start
            if self._cut_download:  # a dropped connection, mid-body
                count = max(1, count // 2)
            with file_path.open("rb") as f:
                self.connection.sendfile(f, offset=start, count=count)
            if count < end - start:
                raise _Dropped

    def _faults(self, body: bytes) -> None:
        faults = self.state.faults
        if self.command == "DELETE":
            faults.clear()
        else:
            try:
                faults.configure_from_json(json_object(body, "fault spec"))
            except FaultSpecError as exc:
                raise BadRequest(f"bad fault spec: {exc}") from None
        self._send_json(200, {"ok": True})


_UNAUTHORIZED = "unauthorized: missing or invalid API key"
_NO_TELEMETRY = (
    "local W&B server: W&B's OpenTelemetry proxy is not supported (telemetry is not stored)"
)
#: Routes served without a key (``/healthz``; the read-only pages are matched by path).
_OPEN_ROUTES = ("healthz",)
#: Routes whose whole body is read (within ``max_body_bytes``) before they are served.
_BODY_ROUTES = ("graphql", "file_stream", "faults")


def _graphql_request(body: bytes) -> tuple[dict[str, Any], PreparedQuery]:
    """The request ``{query, variables?, operationName?}`` in ``body``, its document parsed
    and validated; raises :class:`BadRequest` saying why when it is no GraphQL request."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise BadRequest("request body is not JSON") from None
    if isinstance(payload, list):
        raise BadRequest("batched requests are not supported")
    if not isinstance(payload, dict):
        raise BadRequest("malformed GraphQL request: the body must be a JSON object")
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("malformed GraphQL request: no 'query' string")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("malformed GraphQL request: 'variables' must be a JSON object")
    name = payload.get("operationName")
    if name is not None and not isinstance(name, str):
        raise BadRequest("malformed GraphQL request: 'operationName' must be a string")
    prepared = prepare_query(query)
    if prepared.syntax_error is not None:
        raise BadRequest(f"malformed GraphQL request: {prepared.syntax_error.message}")
    return payload, prepared


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
    first_text, _, last_text = (part.strip() for part in spec.partition("-"))
    first, last = natural_number(first_text), natural_number(last_text)
    if (
        (first is None and last is None)
        or (first_text and first is None)
        or (last_text and last is None)
    ):
        return 0, size
    if first is None:  # a suffix: the last N bytes
        assert last is not None
        return max(0, size - last), size
    start = first
    if last is not None and last < start:  # not a valid range: ignored (RFC 9110)
        return 0, size
    end = min(size, last + 1) if last is not None else size
    if start >= size:
        return None
    return start, end


def _route_kind(method: str, path: str) -> str:
    if path == "/healthz":
        return "healthz"
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
    """Threaded HTTP server with a deep listen backlog (the SDK opens many connections),
    serving at most ``limits.max_connections`` connections at once (one thread each); a
    connection beyond is answered ``503`` with ``Retry-After: 1`` and closed."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        limits: Limits,
    ) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._counts_lock = threading.Lock()
        #: Connections accepted since the start (refused ones included).
        self.connections_opened = 0
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._counts_lock:
            self.connections_opened += 1
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request, self.limits.max_connections)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that reset or dropped its connection is logged at debug level, as an
        HTTP server does; anything else keeps socketserver's traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %r", client_address, error)
            return
        super().handle_error(request, client_address)


def _refuse_busy(sock: socket.socket, limit: int) -> None:
    body = json.dumps({"error": f"local W&B server busy: {limit} connections open; retry"}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.settimeout(1.0)
        sock.sendall(head.encode() + body)


def make_http_server(host: str, port: int, state: ServerState) -> LocalHTTPServer:
    """Bind (port 0 picks a free one) and return a server that is not yet serving."""
    # ``timeout`` is set on each connection's socket: its idle (read and write) limit
    attributes = {"state": state, "timeout": state.limits.idle_timeout_s}
    handler = type("BoundHandler", (Handler,), attributes)
    return LocalHTTPServer((host, port), handler, state.limits)
