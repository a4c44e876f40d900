"""Lifecycle: run the server in a background thread or in a child process.

Example::

    from dagster_wandb_v2.testing.server import local_wandb_server

    with local_wandb_server() as server:
        os.environ["WANDB_BASE_URL"] = server.base_url
        os.environ["WANDB_API_KEY"] = server.api_key
        ...
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import LocalHTTPServer, RequestRecord, ServerState, make_http_server
from .credentials import API_KEY_VARIABLE, data_dir_api_key, data_dir_signing_key
from .faults import Faults
from .limits import Limits
from .signed_urls import DEFAULT_TTL_SECONDS, UrlSigner
from .storage import Identity, Storage


class LocalWandbServer:
    """A W&B-compatible server on ``host:port`` storing its state in ``data_dir``.

    ``port=0`` picks a free port; ``data_dir=None`` uses a temporary directory removed
    on :meth:`stop`. ``api_key=None``: a random key generated for ``data_dir`` and kept
    there (:attr:`api_key`; see :mod:`.credentials`). Signed upload and download URLs
    expire ``signed_url_ttl_seconds`` after they are handed out and start with
    ``public_url`` (default: the address a client connected to). ``latency_ms`` delays
    every request (for benchmarks); :attr:`faults` injects failures (see :mod:`.faults`);
    ``limits`` bounds body sizes, idle time and connections (see :class:`~.limits.Limits`).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        identity: Identity | None = None,
        request_log: str | os.PathLike[str] | None = None,
        limits: Limits | None = None,
        signed_url_ttl_seconds: float = DEFAULT_TTL_SECONDS,
        public_url: str | None = None,
    ) -> None:
        self._tmp_dir: str | None = None
        if data_dir is None:
            self._tmp_dir = tempfile.mkdtemp(prefix="wandb-local-server-")
            data_dir = self._tmp_dir
        self.data_dir = Path(data_dir)
        self.api_key = api_key or data_dir_api_key(self.data_dir)
        self.host = host
        self._port = port
        self.faults = Faults(latency_ms=latency_ms)
        self.storage = Storage(self.data_dir, identity)
        self._state = ServerState(
            storage=self.storage,
            api_key=self.api_key,
            faults=self.faults,
            url_signer=UrlSigner(data_dir_signing_key(self.data_dir), signed_url_ttl_seconds),
            public_url=public_url,
            request_log=Path(request_log) if request_log else None,
            limits=limits or Limits(),
        )
        self._httpd: LocalHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- properties --------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is not None:
            return int(self._httpd.server_address[1])
        return self._port

    @property
    def base_url(self) -> str:
        """What ``WANDB_BASE_URL`` should be set to."""
        return f"http://{self.host}:{self.port}"

    @property
    def entity(self) -> str:
        """The entity the server treats as the caller's default."""
        return self.storage.identity.entity

    @property
    def org_entity(self) -> str:
        """The organization entity registries (``wandb-registry-*``) live under."""
        return self.storage.identity.org_entity

    @property
    def requests(self) -> list[RequestRecord]:
        """The last requests handled (most recent last; at most 10,000: older ones are
        dropped, so use :attr:`request_count` and :meth:`requests_since` to select the
        requests of one step)."""
        self._wait_for_answered()
        with self._state.requests_lock:
            return list(self._state.requests)

    @property
    def request_count(self) -> int:
        """How many requests were handled since the server started (never capped)."""
        self._wait_for_answered()
        with self._state.requests_lock:
            return self._state.handled

    def _wait_for_answered(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) until every request whose answer has started
        is recorded: the server records a request once it has answered, so a client that
        just got its answer could otherwise not find its request yet."""
        state = self._state
        with state.answered:
            state.answered.wait_for(lambda: not state.answering, timeout=timeout)

    @property
    def connections_opened(self) -> int:
        """How many TCP connections clients opened since the server started (each
        ``wandb.Api`` and each run keeps its own; 0 before :meth:`start`).

        >>> before = server.connections_opened  # doctest: +SKIP
        >>> ...  # the work to measure
        >>> opened = server.connections_opened - before  # doctest: +SKIP
        """
        return self._httpd.connections_opened if self._httpd is not None else 0

    def requests_since(self, count: int) -> list[RequestRecord]:
        """The requests handled after the first ``count`` (a :attr:`request_count` taken
        before), oldest first.

        >>> mark = server.request_count  # doctest: +SKIP
        >>> ...  # the work to measure
        >>> operations = [r.operation for r in server.requests_since(mark)]  # doctest: +SKIP

        Raises ``ValueError`` if some of them were already dropped (more than 10,000).
        """
        self._wait_for_answered()
        with self._state.requests_lock:
            kept = list(self._state.requests)
            newer = self._state.handled - count
        if newer > len(kept):
            raise ValueError(
                f"{newer} requests were handled since request {count}; only the last "
                f"{len(kept)} are kept"
            )
        return kept[len(kept) - newer :] if newer > 0 else []

    def env(self) -> dict[str, str]:
        """Environment variables that point the wandb SDK at this server."""
        return {"WANDB_BASE_URL": self.base_url, "WANDB_API_KEY": self.api_key}

    def add_user(self, username: str, api_key: str | None = None) -> str:
        """Register another user, whose own entity is ``username``; returns its API key.

        W&B gives every user a key and a personal entity; the default key stays valid.
        The key defaults to ``username`` (which must then be 40+ word characters after an
        optional ``prefix-``, the SDK's key format). Every user shares the organization.
        """
        key = api_key or username
        base = self.storage.identity
        self._state.users[key] = Identity(
            username=username,
            entity=username,
            email=f"{username}@localhost",
            org_name=base.org_name,
            org_entity=base.org_entity,
        )
        return key

    # ---- lifecycle ----------------------------------------------------------------
    def start(self) -> LocalWandbServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self._httpd = make_http_server(self.host, self._port, self._state)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"wandb-local-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until :meth:`stop` or an interrupt."""
        if self._httpd is None:
            self._httpd = make_http_server(self.host, self._port, self._state)
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving, close storage, and remove a temporary data dir."""
        if self._httpd is not None:
            self._port = self.port
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=5)
            self._httpd.server_close()
            self._httpd = None
            self._thread = None
        self.storage.close()
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def __enter__(self) -> LocalWandbServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- child process -------------------------------------------------------------
    @staticmethod
    def start_subprocess(
        data_dir: str | os.PathLike[str],
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        timeout: float = 30.0,
        *,
        python: str | os.PathLike[str] | None = None,
        request_log: str | os.PathLike[str] | None = None,
        log_file: str | os.PathLike[str] | None = None,
    ) -> SubprocessServer:
        """Run the server in a child Python process (``python -m ...server``).

        Use it when the SDK runs in other processes, or to test restarts. Faults can be
        set over HTTP: ``POST /_local/faults`` with the API key. The key (``api_key``,
        else the one generated for ``data_dir``) reaches the child in the environment
        variable :data:`~.credentials.API_KEY_VARIABLE`, not on its command line, which
        every user of the machine can read in the process list. The keyword options
        (another interpreter, a request log, a log file) are those of
        :meth:`SubprocessServer.start`.
        """
        return SubprocessServer.start(
            data_dir,
            api_key,
            host,
            port,
            latency_ms,
            timeout,
            python=python,
            request_log=request_log,
            log_file=log_file,
        )


class SubprocessServer:
    """Handle on a server running in a child process, started by :meth:`start`.

    Example::

        with SubprocessServer.start(tmp_path / "data", request_log=tmp_path / "log") as server:
            child_env = {**os.environ, **server.env()}  # for SDK processes
            server.set_latency(20.0)  # every request from now on waits 20 ms
    """

    def __init__(
        self,
        process: subprocess.Popen[str],
        base_url: str,
        api_key: str,
        data_dir: Path,
        request_log: Path | None = None,
    ) -> None:
        self.process = process
        self.base_url = base_url
        self.api_key = api_key
        self.data_dir = data_dir
        #: The file the server appends one JSON line per request to (the fields of
        #: :class:`~.app.RequestRecord`), if it was started with one.
        self.request_log = request_log
        self._entity: str | None = None

    @classmethod
    def start(
        cls,
        data_dir: str | os.PathLike[str],
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        timeout: float = 30.0,
        *,
        python: str | os.PathLike[str] | None = None,
        request_log: str | os.PathLike[str] | None = None,
        log_file: str | os.PathLike[str] | None = None,
    ) -> SubprocessServer:
        """Start ``python -m dagster_wandb_v2.testing.server`` and wait until it listens.

        - ``data_dir``, ``api_key``, ``host``, ``port``, ``latency_ms``: as for
          :class:`LocalWandbServer` (the key reaches the child in
          :data:`~.credentials.API_KEY_VARIABLE`);
        - ``python``: the interpreter to run it with, e.g. another virtualenv's
          ``bin/python`` (default: this one, :data:`sys.executable`); ``dagster_wandb_v2``
          must be importable there;
        - ``request_log``: a file the server appends one JSON line per request to
          (``--request-log``; the fields of :class:`~.app.RequestRecord`), kept in
          :attr:`request_log`;
        - ``log_file``: a file the child's stderr (warnings, tracebacks) is appended to
          (default: this process's stderr).

        Raises ``RuntimeError`` if the child exits or prints no address within ``timeout``
        seconds (e.g. the port is taken), with the tail of ``log_file`` if given.
        """
        key = api_key or data_dir_api_key(Path(data_dir))
        cmd = [
            str(python or sys.executable),
            "-m",
            "dagster_wandb_v2.testing.server",
            "--data-dir",
            str(data_dir),
            "--host",
            host,
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ]
        if request_log is not None:
            cmd += ["--request-log", str(request_log)]
        environment = {**os.environ, API_KEY_VARIABLE: key}
        with contextlib.ExitStack() as files:  # the child keeps its own descriptor
            stderr = files.enter_context(Path(log_file).open("a")) if log_file is not None else None
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1, env=environment
            )
        deadline = time.monotonic() + timeout
        base_url = None
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("WANDB_BASE_URL="):
                base_url = line.strip().split("=", 1)[1]
                break
        if base_url is None:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            message = "local W&B server process did not start"
            if log_file is not None:
                message += f"; its log {log_file}:\n{Path(log_file).read_text()[-3000:]}"
            raise RuntimeError(message)
        # Keep draining stdout so the child never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
        return cls(proc, base_url, key, Path(data_dir), Path(request_log) if request_log else None)

    def env(self) -> dict[str, str]:
        """Environment variables that point the wandb SDK at this server."""
        return {"WANDB_BASE_URL": self.base_url, "WANDB_API_KEY": self.api_key}

    @property
    def entity(self) -> str:
        """The entity the server treats as the caller's default (asked once, over
        GraphQL: W&B's ``viewer { entity }``)."""
        if self._entity is None:
            answer = self._post("/graphql", {"query": "query Viewer { viewer { entity } }"})
            self._entity = str(answer["data"]["viewer"]["entity"])
        return self._entity

    def set_latency(self, latency_ms: float) -> None:
        """Delay every request by ``latency_ms`` milliseconds from now on (0: none).

        A knob of this server, not of W&B (``POST /_local/faults`` with
        ``{"latency_ms": ...}``). Raises ``urllib.error.HTTPError`` (400) for a negative
        value.
        """
        self._post("/_local/faults", {"latency_ms": latency_ms})

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` as JSON with the API key (HTTP Basic, as the wandb SDK sends
        it); the decoded JSON answer."""
        token = base64.b64encode(f"api:{self.api_key}".encode()).decode()
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(payload).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to stop (SIGTERM) and wait; kill it if it does not."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SubprocessServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def local_wandb_server(
    data_dir: str | os.PathLike[str] | None = None,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: float = 0.0,
    signed_url_ttl_seconds: float = DEFAULT_TTL_SECONDS,
) -> Iterator[LocalWandbServer]:
    """Run a :class:`LocalWandbServer` in a background thread for the ``with`` block
    (``api_key=None``: a key generated for the data dir, see :attr:`LocalWandbServer.api_key`)."""
    server = LocalWandbServer(
        data_dir=data_dir,
        api_key=api_key,
        host=host,
        port=port,
        latency_ms=latency_ms,
        signed_url_ttl_seconds=signed_url_ttl_seconds,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
