"""Metadata written on both sides: on the W&B artifact and on the Dagster materialization.

The keys are those of the legacy integration, so dashboards and queries keep working.
"""

from __future__ import annotations

import datetime
import platform
from collections.abc import Mapping
from typing import Any

from dagster import MetadataValue

from dagster_wandb_v2._version import __version__
from dagster_wandb_v2.client import StoredArtifact, WandbRun

SOURCE_INTEGRATION = "dagster_wandb_v2"


def artifact_source_metadata(dagster_run_id: str) -> dict[str, Any]:
    """What every artifact written by the IO manager carries in its W&B metadata."""
    return {
        "source_integration": SOURCE_INTEGRATION,
        "source_integration_version": __version__,
        "source_dagster_run_id": dagster_run_id,
        "source_created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "source_python_version": platform.python_version(),
    }


def artifact_url(app_url: str, run: WandbRun, artifact: StoredArtifact) -> str:
    """The artifact's page in the W&B UI."""
    name = artifact.name.split(":", 1)[0]
    return (
        f"{app_url}/{run.entity}/{run.project}/artifacts/{artifact.type}/{name}/{artifact.version}"
    )


def materialization_metadata(
    dagster_run_id: str,
    app_url: str,
    run: WandbRun,
    artifact: StoredArtifact,
    registry_links: Mapping[str, str] | None = None,
) -> dict[str, MetadataValue]:
    """What the Dagster materialization (or output) records about the logged artifact."""
    metadata: dict[str, MetadataValue] = {
        "dagster_run_id": MetadataValue.dagster_run(dagster_run_id),
        "wandb_artifact_id": MetadataValue.text(str(artifact.id)),
        "wandb_artifact_name": MetadataValue.text(artifact.name.split(":", 1)[0]),
        "wandb_artifact_type": MetadataValue.text(artifact.type),
        "wandb_artifact_version": MetadataValue.text(artifact.version),
        "wandb_artifact_size": MetadataValue.int(int(artifact.size)),
        "wandb_artifact_digest": MetadataValue.text(str(artifact.digest)),
        "wandb_artifact_url": MetadataValue.url(artifact_url(app_url, run, artifact)),
        "wandb_entity": MetadataValue.text(run.entity),
        "wandb_project": MetadataValue.text(run.project),
        "wandb_run_id": MetadataValue.text(run.id),
        "wandb_run_name": MetadataValue.text(run.name),
        "wandb_run_path": MetadataValue.text(run.path),
        "wandb_run_url": MetadataValue.url(run.url),
    }
    if registry_links:
        metadata["wandb_registry_url"] = MetadataValue.url(next(iter(registry_links.values())))
        metadata["wandb_registry_links"] = MetadataValue.json(dict(registry_links))
    return metadata
