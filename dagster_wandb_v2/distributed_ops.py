"""An op that commits a distributed artifact's draft explicitly (see :mod:`.distributed`).

A distributed asset's version is committed by the writer that completes it; when the set
never completes on its own (runs sharing a ``dagster_wandb/distributed_id`` tag, e.g. daily
partitions gathered per month by a schedule; a backfill whose last partitions will not
succeed), this op commits what the draft holds.
It records an ``AssetObservation`` of the asset with the version's metadata.

Example::

    from dagster import Definitions, define_asset_job, job
    from dagster_wandb_v2 import finish_distributed_artifact_op

    finish_shards = finish_distributed_artifact_op("shards", type="dataset")

    @job(resource_defs={"wandb_artifacts_manager": io_manager})
    def finish_job():
        finish_shards()

    # launched with config {"ops": {"finish_shards": {"config": {"distributed_id": "<id>"}}}}
"""

from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    Config,
    OpDefinition,
    OpExecutionContext,
    op,
)
from pydantic import Field, model_validator

from dagster_wandb_v2._unknown_keys import reject_unknown_fields
from dagster_wandb_v2.naming import asset_artifact_name


class FinishDistributedArtifactConfig(Config):
    """Which draft to commit."""

    distributed_id: str = Field(
        description=(
            "The id the writers shared: their dagster_wandb/distributed_id tag, else the "
            "backfill id (tag dagster/backfill) for runs of a backfill, else the writing run's id."
        )
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        return reject_unknown_fields(cls, data)


def finish_distributed_artifact_op(
    asset_key: AssetKey | str,
    type: str,
    *,
    name: str | None = None,
    io_manager_key: str = "wandb_artifacts_manager",
) -> OpDefinition:
    """An op committing the draft of the distributed asset ``asset_key`` (W&B artifact
    type ``type``) through the ``WandbArtifactsIOManager`` under ``io_manager_key``.

    Its config is :class:`FinishDistributedArtifactConfig`. The draft is the one the
    asset's materializations in this Dagster instance recorded for that id. Raises
    :class:`~dagster_wandb_v2.WandbArtifactsIOManagerError`, naming the asset and the id,
    if none did (nothing is created on W&B) or no partition was written to the draft.
    """
    key = AssetKey.from_user_string(asset_key) if isinstance(asset_key, str) else asset_key

    @op(
        name=name or f"finish_{asset_artifact_name(key)}",
        required_resource_keys={io_manager_key},
        description=f"Commit the W&B distributed artifact of asset '{key.to_user_string()}'.",
    )
    def finish(context: OpExecutionContext, config: FinishDistributedArtifactConfig) -> None:
        manager = getattr(context.resources, io_manager_key)
        metadata = manager.finish_distributed_artifact(context, key, config.distributed_id, type)
        context.log_event(AssetObservation(asset_key=key, metadata=metadata))

    return finish
