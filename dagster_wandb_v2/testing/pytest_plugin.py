"""Pytest plugin of dagster_wandb_v2 (registered through the ``pytest11`` entry point).

Fixtures for unit tests, with an in-memory fake W&B:

- ``fake_wandb``: a fresh :class:`~dagster_wandb_v2.testing.FakeWandb`;
- ``fake_wandb_resources``: ``{"wandb": ..., "wandb_artifacts_manager": ...}`` wired to it.

Fixtures for integration tests, with the real wandb SDK and a local W&B-compatible server
on 127.0.0.1 (no network, no account):

- ``local_wandb_server``: the server, started once per test session;
- ``local_wandb``: a fresh project on it for one test, with ``WANDB_*`` environment
  variables set for the test and restored afterwards.

Example::

    def test_my_asset(fake_wandb, fake_wandb_resources):
        assert materialize([my_asset], resources=fake_wandb_resources).success
        assert fake_wandb.artifact("my_asset:latest").metadata["source_integration"]

    def test_my_asset_for_real(local_wandb):
        assert materialize([my_asset], resources=local_wandb.resources()).success
        assert local_wandb.api().artifact(local_wandb.path("my_asset:latest")).version == "v0"
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dagster_wandb_v2.testing.fake import FakeWandb

if TYPE_CHECKING:
    import wandb

    from dagster_wandb_v2.testing.server import LocalWandbServer


@pytest.fixture
def fake_wandb(tmp_path: Path) -> Iterator[FakeWandb]:
    """An empty in-memory W&B, discarded after the test."""
    fake = FakeWandb(storage_dir=tmp_path / "fake-wandb")
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake_wandb_resources(fake_wandb: FakeWandb, tmp_path: Path) -> dict[str, Any]:
    """Resources for ``materialize``/``Definitions`` using ``fake_wandb``."""
    return fake_wandb.resources(base_dir=str(tmp_path / "dagster-storage"))


@pytest.fixture(scope="session")
def local_wandb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWandbServer]:
    """A local W&B-compatible server on 127.0.0.1, shared by the test session, with an API
    key generated for it (``.api_key``; ``local_wandb`` and its ``WANDB_API_KEY`` use it)."""
    from dagster_wandb_v2.testing.server import LocalWandbServer

    server = LocalWandbServer(data_dir=tmp_path_factory.mktemp("local-wandb-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class LocalWandbProject:
    """One test's project on the local server, and helpers to use it."""

    base_url: str
    api_key: str
    entity: str
    project: str
    storage_dir: Path

    def path(self, name: str) -> str:
        """``entity/project/name`` for ``wandb.Api().artifact(...)``."""
        return f"{self.entity}/{self.project}/{name}"

    def resources(self, **io_manager_config: Any) -> dict[str, Any]:
        """``{"wandb": ..., "wandb_artifacts_manager": ...}`` on this project."""
        from dagster_wandb_v2.io_manager import WandbArtifactsIOManager
        from dagster_wandb_v2.resource import WandbResource

        resource = WandbResource(
            api_key=self.api_key, host=self.base_url, entity=self.entity, project=self.project
        )
        io_manager_config.setdefault("base_dir", str(self.storage_dir))
        return {
            "wandb": resource,
            "wandb_artifacts_manager": WandbArtifactsIOManager(wandb=resource, **io_manager_config),
        }

    def api(self) -> wandb.Api:
        """A ``wandb.Api`` on the local server (nothing cached between calls)."""
        import wandb

        return wandb.Api(
            api_key=self.api_key,
            overrides={"base_url": self.base_url, "entity": self.entity, "project": self.project},
        )


@pytest.fixture
def local_wandb(
    local_wandb_server: LocalWandbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalWandbProject]:
    """A fresh project on the session's local server; ``WANDB_*`` set for this test only."""
    import wandb

    from dagster_wandb_v2.testing.server import DIRECTORY_VARIABLES, sdk_environment

    root = tmp_path / "local-wandb"
    environment = sdk_environment(local_wandb_server.base_url, local_wandb_server.api_key, root)
    for key in [key for key in os.environ if key.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    for key in DIRECTORY_VARIABLES:
        Path(environment[key]).mkdir(parents=True, exist_ok=True)
    wandb.teardown()  # forget the SDK settings of earlier tests
    yield LocalWandbProject(
        base_url=local_wandb_server.base_url,
        api_key=local_wandb_server.api_key,
        entity=local_wandb_server.entity,
        project=f"test-{uuid.uuid4().hex[:12]}",
        storage_dir=root / "dagster-storage",
    )
    wandb.teardown()
