"""Reading an artifact created outside Dagster, declared with ``AssetSpec``.

``publish_external_artifact`` plays the part of the outside world: plain wandb code.
"""

from __future__ import annotations

import wandb
from dagster import AssetSpec, asset

from dagster_wandb_v2 import WandbResource

EXTERNAL_ARTIFACT = "external_labels"

external_labels = AssetSpec(
    EXTERNAL_ARTIFACT, description="Artifact created outside Dagster"
).with_io_manager_key("wandb_artifacts_manager")


@asset
def label_count(external_labels: wandb.Artifact) -> int:
    """The whole artifact (it holds no pickled object): a downloaded, verified Artifact."""
    return len(external_labels.get("labels").data)


def publish_external_artifact(wandb_resource: WandbResource) -> None:
    """Log ``external_labels`` with plain wandb code, as another team would."""
    with wandb_resource.init_run(job_type="labelling") as run:
        artifact = wandb.Artifact(EXTERNAL_ARTIFACT, "labels")
        artifact.add(wandb.Table(columns=["label"], data=[["cat"], ["dog"]]), "labels")
        run.log_artifact(artifact).wait()


assets = [external_labels, label_count]
