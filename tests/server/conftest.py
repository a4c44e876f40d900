"""Fixtures running the real wandb SDK against the local W&B server.

One server (in a thread) serves the whole session; each test gets its own project and
its own WANDB_* environment, restored afterwards. The server package is loaded without
importing ``dagster_wandb_v2`` itself when that is not importable, so the same tests run
in a venv with only ``wandb``, ``graphql-core`` and ``pytest`` (SDK compatibility checks).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_SERVER_DIR = Path(__file__).resolve().parents[2] / "dagster_wandb_v2" / "testing" / "server"


def _server_package() -> ModuleType:
    try:
        from dagster_wandb_v2.testing import server

        return server
    except ImportError:
        name = "local_wandb_server_standalone"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(
            name, _SERVER_DIR / "__init__.py", submodule_search_locations=[str(_SERVER_DIR)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


wls = _server_package()


@pytest.fixture(scope="session")
def server_package() -> ModuleType:
    """The ``dagster_wandb_v2.testing.server`` package (or its standalone copy)."""
    return wls


@pytest.fixture(scope="session")
def wandb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local W&B server shared by the session."""
    with wls.local_wandb_server(data_dir=tmp_path_factory.mktemp("wandb-server")) as server:
        yield server


sdk_env = wls.sdk_environment


@pytest.fixture
def wandb_env(wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the SDK at the session server for one test; restore everything after."""
    import wandb

    for key in list(os.environ):
        if key.startswith("WANDB_"):
            monkeypatch.delenv(key)
    env = sdk_env(wandb_server.base_url, wandb_server.api_key, tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in wls.DIRECTORY_VARIABLES:
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    wandb.teardown()  # forget settings of earlier tests
    yield wandb_server
    if wandb.run is not None:
        wandb.finish()
    wandb.teardown()


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A fresh project name for the test."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def api(wandb_env: Any) -> Any:
    """A public API client for the local server."""
    import wandb

    return wandb.Api(
        api_key=wandb_env.api_key,
        overrides={"base_url": wandb_env.base_url, "entity": wandb_env.entity},
    )


def graphql(
    base_url: str, api_key: str | None, query: str, variables: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST a raw GraphQL request; returns (HTTP status, decoded body)."""
    headers = {"Content-Type": "application/json"}
    if api_key is not None:
        token = base64.b64encode(f"api:{api_key}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"{base_url}/graphql", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def gql(wandb_server: Any) -> Any:
    """``gql(query, variables=None, api_key=<server key>)`` -> (status, body)."""

    def call(
        query: str, variables: dict[str, Any] | None = None, api_key: str | None = "default"
    ) -> tuple[int, dict[str, Any]]:
        key = wandb_server.api_key if api_key == "default" else api_key
        return graphql(wandb_server.base_url, key, query, variables)

    return call


@pytest.fixture
def use_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``use_server(server)``: point the SDK at another server (e.g. a restarted one)."""
    import wandb

    for key in list(os.environ):
        if key.startswith("WANDB_"):
            monkeypatch.delenv(key)

    def apply(server: Any) -> None:
        if wandb.run is not None:
            wandb.finish()
        wandb.teardown()
        for key, value in sdk_env(server.base_url, server.api_key, tmp_path).items():
            monkeypatch.setenv(key, value)

    yield apply
    if wandb.run is not None:
        wandb.finish()
    wandb.teardown()


@pytest.fixture
def graphql_to() -> Any:
    """``graphql_to(base_url, api_key, query, variables=None)`` -> (status, body), for a
    server other than the session's."""
    return graphql
