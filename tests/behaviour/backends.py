"""The two W&B backends of the behaviour suite, and what a test reads back from each.

:class:`FakeBackend` wraps :class:`~dagster_wandb_v2.testing.FakeWandb` and reads its own
state; :class:`ServerBackend` drives the real wandb SDK (:class:`SdkWandbClient`) against the
local server and reads back through ``wandb.Api()``. Tests act only through the client
protocol (``backend.client``, ``backend.start_run()``), the seam the IO manager uses.

Example::

    run = backend.start_run()
    stored = log(run, backend.draft("ds", "A"))
    assert backend.aliases("ds") == {"v0": ["latest"]}
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import wandb

from dagster_wandb_v2.client import RunSpec, SdkWandbClient, StoredArtifact, WandbClient, WandbRun
from dagster_wandb_v2.testing import FakeWandb
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer


def server_disagrees(reason: str) -> pytest.MarkDecorator:
    """Mark a test whose ``local_server`` case fails today: strict xfail on that case only."""
    return pytest.mark.server_disagrees(reason=reason)


def log(run: WandbRun, artifact: wandb.Artifact, aliases: Sequence[str] = ()) -> StoredArtifact:
    """``run.log_artifact`` with the aliases the IO manager always adds (``latest``)."""
    return run.log_artifact(artifact, [*aliases, "latest"])


class Backend(ABC):
    """One W&B to run the behaviours against, and what a test reads back from it.

    ``entity`` is the caller's default entity, ``project`` a fresh project for the test,
    ``organization`` and ``registry_entity`` where W&B Registry collections live.
    """

    kind: str
    client: WandbClient
    entity: str
    project: str
    organization: str
    registry_entity: str

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    # --- acting, through the client protocol ---------------------------------------------

    def start_run(
        self,
        run_id: str | None = None,
        name: str | None = None,
        entity: str | None = None,
        tags: tuple[str, ...] = (),
        group: str | None = None,
    ) -> WandbRun:
        run_id = run_id or uuid.uuid4().hex[:8]
        spec = RunSpec(
            project=self.project,
            run_id=run_id,
            name=name or f"run-{run_id}",
            entity=entity,
            tags=tags,
            group=group,
            directory=str(self.tmp_path),
        )
        return self.client.start_run(spec)

    def draft(
        self,
        name: str,
        content: str,
        type: str = "dataset",
        path: str = "data/train.csv",
        **files: str,
    ) -> wandb.Artifact:
        """A draft artifact holding ``content`` at ``path`` (and ``files``: path -> content)."""
        artifact = wandb.Artifact(name, type)
        for file_path, file_content in {path: content, **files}.items():
            with artifact.new_file(file_path) as file:
                file.write(file_content)
        return artifact

    def path(self, name: str) -> str:
        """``entity/project/name`` in this test's project."""
        return f"{self.entity}/{self.project}/{name}"

    def unique(self, name: str) -> str:
        """``name`` made unique to this test, for what outlives a project (registries)."""
        return f"{name}-{self.project}"

    def registry_path(self, registry: str, collection: str) -> str:
        """``<registry entity>/wandb-registry-<registry>/<collection>``."""
        return f"{self.registry_entity}/wandb-registry-{registry}/{collection}"

    @abstractmethod
    def resources(self, **io_manager_config: Any) -> dict[str, Any]:
        """``{"wandb": ..., "wandb_artifacts_manager": ...}`` for ``materialize``."""

    # --- reading back what W&B recorded ---------------------------------------------------

    @abstractmethod
    def lookup(self, name: str) -> StoredArtifact:
        """``wandb.Api().artifact(entity/project/name)`` (no run, no lineage)."""

    @abstractmethod
    def aliases(self, collection: str, type: str = "dataset") -> dict[str, list[str]]:
        """Every version of ``collection`` with its sorted aliases: ``{"v0": [...], ...}``."""

    @abstractmethod
    def logged_by(self, name: str) -> str | None:
        """The id of the run that logged version ``name`` (``collection:vN``)."""

    @abstractmethod
    def used_by(self, name: str) -> list[str]:
        """The sorted ids of the runs that used version ``name``."""

    @abstractmethod
    def logged_artifacts(self, run_id: str) -> list[str]:
        """The sorted ``collection:vN`` names a run logged (``Run.logged_artifacts()``)."""

    @abstractmethod
    def used_artifacts(self, run_id: str) -> list[str]:
        """The sorted ``collection:vN`` names a run used (``Run.used_artifacts()``)."""

    @abstractmethod
    def run_record(self, run_id: str) -> tuple[str, list[str], str | None]:
        """What W&B shows of a run: ``(state, sorted tags, group)``."""

    @abstractmethod
    def ttl_seconds(self, name: str) -> int | None:
        """The TTL of version ``name`` in seconds (``Artifact.ttl``), ``None`` for none."""

    @abstractmethod
    def registry_versions(
        self, registry: str, collection: str, type: str = "dataset"
    ) -> dict[str, tuple[str, list[str]]]:
        """Versions of a registry collection: ``{"v0": (source "name:vN", sorted aliases)}``."""


class FakeBackend(Backend):
    kind = "fake"

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.fake = FakeWandb(storage_dir=tmp_path / "fake-wandb")
        self.client = self.fake.client()
        self.entity = "fake-entity"
        self.project = f"test-{uuid.uuid4().hex[:12]}"
        self.organization = self.registry_entity = "fake-org"

    def resources(self, **io_manager_config: Any) -> dict[str, Any]:
        io_manager_config.setdefault("base_dir", str(self.tmp_path / "dagster-storage"))
        return self.fake.resources(project=self.project, **io_manager_config)

    def lookup(self, name: str) -> StoredArtifact:
        return self.fake.artifact(self.path(name))

    def aliases(self, collection: str, type: str = "dataset") -> dict[str, list[str]]:
        return {
            version.version: sorted(version.aliases)
            for version in self.fake.versions(self.path(collection))
        }

    def logged_by(self, name: str) -> str | None:
        return self.fake.artifact(self.path(name)).logged_by_run.rsplit("/", 1)[-1]

    def used_by(self, name: str) -> list[str]:
        runs = self.fake.artifact(self.path(name)).used_by_runs
        return sorted(path.rsplit("/", 1)[-1] for path in runs)

    def logged_artifacts(self, run_id: str) -> list[str]:
        return sorted(a.source_name for run in self._runs(run_id) for a in run.logged)

    def used_artifacts(self, run_id: str) -> list[str]:
        return sorted(a.source_name for run in self._runs(run_id) for a in run.used)

    def _runs(self, run_id: str) -> list[Any]:
        return [run for run in self.fake.runs if run.id == run_id]

    def run_record(self, run_id: str) -> tuple[str, list[str], str | None]:
        run = self._runs(run_id)[-1]
        return run.state, sorted(run.spec.tags), run.spec.group

    def ttl_seconds(self, name: str) -> int | None:
        return self.fake.artifact(self.path(name)).ttl_seconds

    def registry_versions(
        self, registry: str, collection: str, type: str = "dataset"
    ) -> dict[str, tuple[str, list[str]]]:
        return {
            version: (source.source_name, sorted(aliases))
            for version, source, aliases in self.fake.registry_versions(
                f"wandb-registry-{registry}/{collection}"
            )
        }


class ServerBackend(Backend):
    kind = "local_server"

    def __init__(self, tmp_path: Path, server: LocalWandbServer) -> None:
        super().__init__(tmp_path)
        self.server = server
        self.client = SdkWandbClient(api_key=server.api_key, host=server.base_url)
        self.entity = server.entity
        self.project = f"test-{uuid.uuid4().hex[:12]}"
        self.organization = "local-org"
        self.registry_entity = server.org_entity

    def resources(self, **io_manager_config: Any) -> dict[str, Any]:
        project = LocalWandbProject(
            base_url=self.server.base_url,
            api_key=self.server.api_key,
            entity=self.entity,
            project=self.project,
            storage_dir=self.tmp_path / "dagster-storage",
        )
        return project.resources(**io_manager_config)

    def api(self) -> wandb.Api:
        return wandb.Api(
            api_key=self.server.api_key,
            overrides={"base_url": self.server.base_url, "entity": self.entity},
        )

    def lookup(self, name: str) -> StoredArtifact:
        artifact: StoredArtifact = self.api().artifact(self.path(name))
        return artifact

    def aliases(self, collection: str, type: str = "dataset") -> dict[str, list[str]]:
        versions = self.api().artifacts(type, self.path(collection))
        return {version.version: sorted(version.aliases) for version in versions}

    def logged_by(self, name: str) -> str | None:
        run = self.api().artifact(self.path(name)).logged_by()
        return None if run is None else str(run.id)

    def used_by(self, name: str) -> list[str]:
        return sorted(str(run.id) for run in self.api().artifact(self.path(name)).used_by())

    def logged_artifacts(self, run_id: str) -> list[str]:
        run = self.api().run(self.path(run_id))
        return sorted(artifact.source_name for artifact in run.logged_artifacts())

    def used_artifacts(self, run_id: str) -> list[str]:
        run = self.api().run(self.path(run_id))
        return sorted(artifact.source_name for artifact in run.used_artifacts())

    def run_record(self, run_id: str) -> tuple[str, list[str], str | None]:
        run = self.api().run(self.path(run_id))
        return str(run.state), sorted(run.tags), run.group

    def ttl_seconds(self, name: str) -> int | None:
        ttl = self.api().artifact(self.path(name)).ttl
        return None if ttl is None else int(ttl.total_seconds())

    def registry_versions(
        self, registry: str, collection: str, type: str = "dataset"
    ) -> dict[str, tuple[str, list[str]]]:
        versions = self.api().artifacts(type, self.registry_path(registry, collection))
        return {v.version: (v.source_name, sorted(v.aliases)) for v in versions}
