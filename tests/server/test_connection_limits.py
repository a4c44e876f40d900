"""Connections are bounded: one that sends nothing (between requests or inside a body) is
closed after the idle timeout, a connection beyond ``max_connections`` gets a 503 it can
retry, and the wandb SDK (file_stream, uploads, reconnects) works under a short timeout."""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb

#: How long a test waits for the server to close an idle connection: far above the
#: 1 s idle timeout it is configured with, so the outcome never depends on timing.
PATIENCE_S = 15.0


def _server(package: Any, data_dir: Path, **limits: Any) -> Any:
    bounds = package.limits.Limits(idle_timeout_s=1.0, **limits)
    return package.LocalWandbServer(data_dir=data_dir, limits=bounds)


@pytest.fixture
def limited_server(server_package: Any, tmp_path: Path) -> Iterator[Any]:
    """A server closing connections idle for 1 s, serving at most 4 at once."""
    with _server(server_package, tmp_path / "server", max_connections=4) as server:
        yield server


@pytest.fixture
def impatient_server(server_package: Any, tmp_path: Path) -> Iterator[Any]:
    """A server closing connections idle for 1 s (the SDK keeps some open longer)."""
    with _server(server_package, tmp_path / "server") as server:
        yield server


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes ``sock`` (EOF) within ``PATIENCE_S``."""
    sock.settimeout(PATIENCE_S)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_an_idle_connection_is_closed(limited_server: Any) -> None:
    with socket.create_connection((limited_server.host, limited_server.port)) as sock:
        assert _closed_by_server(sock)


def test_a_body_that_stops_arriving_does_not_hold_a_thread(limited_server: Any) -> None:
    head = (
        f"PUT /blobs/{'0' * 32} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {limited_server.api_key}\r\nContent-Length: 1000\r\n\r\n"
    )
    with socket.create_connection((limited_server.host, limited_server.port)) as sock:
        sock.sendall(head.encode() + b"only ten b")
        assert _closed_by_server(sock)
    assert list((limited_server.data_dir / "blobs" / ".tmp").iterdir()) == []


def test_a_connection_beyond_the_limit_gets_a_503_then_a_slot(limited_server: Any) -> None:
    address = (limited_server.host, limited_server.port)
    held = [socket.create_connection(address) for _ in range(4)]
    try:
        time.sleep(0.2)  # let the server accept them (not needed for the outcome below)
        conn = http.client.HTTPConnection(*address, timeout=10)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 503
        assert response.getheader("Retry-After") == "1"
        assert "connections open" in response.read().decode()
        conn.close()
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + PATIENCE_S
    while True:  # slots free as the held connections' threads see them closed
        conn = http.client.HTTPConnection(*address, timeout=10)
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        conn.close()
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200


def test_the_sdk_works_across_idle_timeouts(
    impatient_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_package: Any
) -> None:
    limited_server = impatient_server
    for key in list(os.environ):
        if key.startswith("WANDB_"):
            monkeypatch.delenv(key)
    env = server_package.sdk_environment(limited_server.base_url, limited_server.api_key, tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    wandb.teardown()
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(8 << 20))
    run = wandb.init(entity=limited_server.entity, project="idle-timeouts")
    try:
        run.log({"loss": 1.0})
        time.sleep(2.5)  # longer than the idle timeout: kept-alive connections are closed
        run.log({"loss": 0.5})
        artifact = wandb.Artifact("after-idle", type="dataset")
        artifact.add_file(str(data))
        run.log_artifact(artifact).wait()
    finally:
        run.finish()
        wandb.teardown()
    api = wandb.Api(
        api_key=limited_server.api_key,
        overrides={"base_url": limited_server.base_url, "entity": limited_server.entity},
    )
    stored = api.artifact(f"{limited_server.entity}/idle-timeouts/after-idle:v0")
    assert stored.manifest.entries["data.bin"].size == 8 << 20
    history = api.run(f"{limited_server.entity}/idle-timeouts/{run.id}").history(pandas=False)
    assert [row["loss"] for row in history] == [1.0, 0.5]
