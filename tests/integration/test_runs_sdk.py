"""The IO manager's W&B runs through the real wandb SDK against the local server.

- every value the materialization metadata reads from the SDK's run and artifact objects
  is what ``wandb.Api()`` returns for them (``wandb.Run.path`` is a ``str``, the public
  API's a list).
"""

from typing import Any
from urllib.parse import urlparse

from dagster import (
    asset,
    materialize,
)

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
MATERIALIZATION_KEYS = {
    "dagster_run_id",
    "wandb_artifact_id",
    "wandb_artifact_name",
    "wandb_artifact_type",
    "wandb_artifact_version",
    "wandb_artifact_size",
    "wandb_artifact_url",
    "wandb_entity",
    "wandb_project",
    "wandb_run_id",
    "wandb_run_name",
    "wandb_run_path",
    "wandb_run_url",
}
"""DESIGN.md section 1: the Dagster materialization metadata of a logged artifact."""


def _materialization(result: Any, asset_name: str) -> dict[str, Any]:
    (event,) = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key.path == [asset_name]
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_materialization_metadata_is_what_the_wandb_api_returns(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata=CONFIG, io_manager_key=IO)
    def numbers() -> list[int]:
        return list(range(100))

    materialize([numbers], resources=local_wandb.resources())  # v0, so the next is v1
    assert materialize([numbers], resources=local_wandb.resources()).success  # same content
    values = iter([[1], [2]])

    @asset(name="numbers", metadata=CONFIG, io_manager_key=IO)
    def changed() -> list[int]:
        return next(values)

    result = materialize([changed], resources=local_wandb.resources(run_name="metadata-check"))
    metadata = _materialization(result, "numbers")
    assert set(metadata) == MATERIALIZATION_KEYS
    api = local_wandb.api()

    run = api.run(metadata["wandb_run_path"])  # the path opens the run
    assert "/".join(run.path) == metadata["wandb_run_path"]
    assert run.id == metadata["wandb_run_id"] == result.run_id
    assert run.name == metadata["wandb_run_name"] == "metadata-check"
    assert run.entity == metadata["wandb_entity"] == local_wandb.entity
    assert run.project == metadata["wandb_project"] == local_wandb.project
    assert metadata["wandb_run_url"] == run.url
    run_url = urlparse(metadata["wandb_run_url"])
    server = urlparse(local_wandb.base_url)
    assert run_url.netloc == server.netloc
    assert run_url.path == f"/{run.entity}/{run.project}/runs/{run.id}"
    assert metadata["dagster_run_id"] == result.run_id

    artifact = api.artifact(local_wandb.path(f"numbers:{metadata['wandb_artifact_version']}"))
    assert artifact.id == metadata["wandb_artifact_id"]
    assert api.artifact(local_wandb.path("numbers:latest")).id == metadata["wandb_artifact_id"]
    assert artifact.version == metadata["wandb_artifact_version"] == "v1"
    assert artifact.name == "numbers:v1" and metadata["wandb_artifact_name"] == "numbers"
    assert artifact.type == metadata["wandb_artifact_type"] == "dataset"
    assert artifact.size == metadata["wandb_artifact_size"] > 0
    assert [logged.id for logged in run.logged_artifacts()] == [artifact.id]
    artifact_url = urlparse(metadata["wandb_artifact_url"])
    assert artifact_url.netloc == server.netloc
    assert (
        artifact_url.path
        == urlparse(artifact.url).path
        == (f"/{artifact.entity}/{artifact.project}/artifacts/dataset/numbers/v1")
    )
