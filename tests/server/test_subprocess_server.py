"""The server in a child process (``SubprocessServer``): each option of ``start`` does what
its docstring says, against the real child process on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import stat
import sys
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wandb

VIEWER = "query Viewer { viewer { entity } }"


@pytest.fixture
def subprocess_server(server_package: Any) -> Any:
    """``SubprocessServer``, which needs ``dagster_wandb_v2`` importable in the child."""
    if server_package.__name__ != "dagster_wandb_v2.testing.server":
        pytest.skip("the child process needs dagster_wandb_v2 importable")
    return server_package.SubprocessServer


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _logged(request_log: Path) -> list[dict[str, Any]]:
    if not request_log.exists():
        return []
    return [json.loads(line) for line in request_log.read_text().splitlines() if line]


def test_python_runs_the_server_with_the_given_interpreter(
    server_package: Any, subprocess_server: Any, use_server: Any, tmp_path: Path
) -> None:
    # An "interpreter" that notes how it was called, then runs this one.
    called = tmp_path / "called-with"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" > {called}\nexec {sys.executable} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)

    server = server_package.LocalWandbServer.start_subprocess(tmp_path / "data", python=python)
    try:
        assert called.read_text().startswith("-m dagster_wandb_v2.testing.server ")
        use_server(server)
        api = wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})
        assert api.viewer.entity == server.entity == "local-user"
    finally:
        server.stop()
    assert server.process.returncode is not None


def test_request_log_gets_one_line_per_request(
    subprocess_server: Any, graphql_to: Any, tmp_path: Path
) -> None:
    request_log = tmp_path / "requests.jsonl"
    with subprocess_server.start(tmp_path / "data", request_log=request_log) as server:
        assert server.request_log == request_log
        status, _ = graphql_to(server.base_url, server.api_key, VIEWER)
        assert status == 200
        # The server writes the line once it has answered.
        _wait_for(lambda: any(r["operation"] == "Viewer" for r in _logged(request_log)), "a line")
    (record,) = [r for r in _logged(request_log) if r["operation"] == "Viewer"]
    assert record["method"] == "POST"
    assert record["route"] == "graphql"
    assert record["status"] == 200


def test_without_request_log_nothing_is_logged(subprocess_server: Any, tmp_path: Path) -> None:
    with subprocess_server.start(tmp_path / "data") as server:
        assert server.request_log is None
        assert server.entity == "local-user"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def test_log_file_gets_the_child_s_stderr_and_the_error_names_it(
    subprocess_server: Any, tmp_path: Path
) -> None:
    log_file = tmp_path / "server.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="did not start") as raised:
            subprocess_server.start(tmp_path / "data", port=port, log_file=log_file)
    assert f"cannot listen on 127.0.0.1:{port}" in log_file.read_text()
    assert str(log_file) in str(raised.value)
    assert "cannot listen" in str(raised.value)


def test_set_latency_delays_every_request_from_then_on(
    subprocess_server: Any, graphql_to: Any, tmp_path: Path
) -> None:
    with subprocess_server.start(tmp_path / "data") as server:
        server.set_latency(400.0)
        for _ in range(2):
            started = time.monotonic()
            status, _ = graphql_to(server.base_url, server.api_key, VIEWER)
            assert status == 200
            assert time.monotonic() - started >= 0.4  # the server sleeps that long first

        server.set_latency(0.0)
        status, body = graphql_to(server.base_url, server.api_key, VIEWER)
        assert (status, body["data"]["viewer"]["entity"]) == (200, "local-user")

        with pytest.raises(urllib.error.HTTPError) as rejected:
            server.set_latency(-1.0)
        assert rejected.value.code == 400
