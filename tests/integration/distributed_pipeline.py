"""A distributed asset for runs of one backfill, each with the multiprocess executor;
rebuilt in every process from the environment."""

import os
from typing import Any

from dagster import (
    AssetExecutionContext,
    Definitions,
    JobDefinition,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"
PARTITIONS = StaticPartitionsDefinition(["a", "b", "c", "d"])


@asset(
    partitions_def=PARTITIONS,
    metadata={"wandb_artifact_configuration": {"type": "dataset", "distributed": True}},
    io_manager_key=IO,
)
def shards(context: AssetExecutionContext) -> dict[str, str]:
    """Each partition's value names its key and the attempt (``DISTRIBUTED_TEST_ATTEMPT``)."""
    return {
        "key": context.partition_key,
        "attempt": os.environ.get("DISTRIBUTED_TEST_ATTEMPT", "1"),
    }


def resources() -> dict[str, Any]:
    wandb = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["DISTRIBUTED_TEST_PROJECT"],
    )
    return {
        IO: WandbArtifactsIOManager(wandb=wandb, base_dir=os.environ["DISTRIBUTED_TEST_STORAGE"])
    }


def definitions() -> Definitions:
    return Definitions(
        assets=[shards],
        jobs=[
            define_asset_job("shards_job", selection=[shards], executor_def=multiprocess_executor)
        ],
        resources=resources(),
    )


def shards_job() -> JobDefinition:
    return definitions().resolve_job_def("shards_job")
