"""Distributed artifacts: every partition of an asset in ONE W&B artifact version.

``"distributed": True`` puts each partition's value under ``partitions/<key>/`` of one
version named after the asset (W&B's distributed artifacts: ``upsert_artifact``, then a
commit once every partition of the run or backfill is in). W&B Tables are gathered by one
``PartitionedTable`` named after the asset. Readers get ``{partition key: value}`` from one
manifest, a partition-mapped reader its own partitions.

Runs that share no backfill (a daily schedule, here simulated) gather into one draft with
the run tag ``dagster_wandb/distributed_id``; ``finish_distributed_artifact_op`` commits it.
"""

from typing import Any

import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    job,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dagster_wandb_v2 import WandbArtifactConfiguration, finish_distributed_artifact_op

IO_MANAGER = "wandb_artifacts_manager"
DAYS = DailyPartitionsDefinition(start_date="2023-02-01", end_date="2023-02-08")
REGIONS = StaticPartitionsDefinition(["emea", "amer", "apac"])
DISTRIBUTED: WandbArtifactConfiguration = {"type": "dataset", "distributed": True}
DISTRIBUTED_ID_TAG = "dagster_wandb/distributed_id"


@asset(
    partitions_def=DAYS,
    metadata={"wandb_artifact_configuration": DISTRIBUTED},
    io_manager_key=IO_MANAGER,
    backfill_policy=BackfillPolicy.single_run(),
)
def daily_shards(context: AssetExecutionContext) -> dict[str, list[int]]:
    """One shard per day; a backfill writes them all into one version."""
    return {key: [int(key[-2:])] * 3 for key in context.partition_keys}


@asset(ins={"daily_shards": AssetIn(input_manager_key=IO_MANAGER)})
def shard_sizes(daily_shards: dict[str, list[int]]) -> dict[str, int]:
    """Every partition, from one manifest of the one version."""
    return {day: len(shard) for day, shard in daily_shards.items()}


@asset(
    partitions_def=REGIONS,
    metadata={"wandb_artifact_configuration": DISTRIBUTED},
    io_manager_key=IO_MANAGER,
    backfill_policy=BackfillPolicy.single_run(),
)
def region_scores(context: AssetExecutionContext) -> dict[str, wandb.Table]:
    """A W&B Table per region, gathered by the PartitionedTable ``region_scores``."""
    return {
        region: wandb.Table(columns=["region", "score"], data=[[region, len(region) / 10]])
        for region in context.partition_keys
    }


@asset(
    ins={
        "region_scores": AssetIn(
            input_manager_key=IO_MANAGER,
            metadata={"wandb_artifact_configuration": {"get": "region_scores"}},
        )
    }
)
def score_rows(region_scores: Any) -> int:
    """``get`` of the PartitionedTable: every row of every region."""
    return len(list(region_scores.iterrows()))


@asset(
    partitions_def=DAYS,
    metadata={"wandb_artifact_configuration": DISTRIBUTED},
    io_manager_key=IO_MANAGER,
)
def daily_readings(context: AssetExecutionContext) -> float:
    """Written one day per run (as a daily schedule would), gathered into one draft."""
    return int(context.partition_key[-2:]) / 10


finish_daily_readings = finish_distributed_artifact_op("daily_readings", type="dataset")


@job
def finish_daily_readings_job() -> None:
    finish_daily_readings()


assets = [daily_shards, shard_sizes, region_scores, score_rows, daily_readings]
jobs = [finish_daily_readings_job]


def run_example(instance: DagsterInstance, resources: dict[str, Any]) -> dict[str, Any]:
    """Backfill both distributed assets in one run each, read them back, then gather three
    daily runs under one distributed id and finish the version explicitly."""
    for asset_def, first, last in (
        (daily_shards, "2023-02-01", "2023-02-07"),
        (region_scores, "emea", "apac"),
    ):
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
        assert materialize([asset_def], resources=resources, instance=instance, tags=tags).success
    readers = materialize(
        assets, resources=resources, instance=instance, selection=[shard_sizes, score_rows]
    )
    distributed_id = f"readings-{instance.get_runs_count()}"
    for day in ("2023-02-01", "2023-02-02", "2023-02-03"):
        materialize(
            [daily_readings],
            resources=resources,
            instance=instance,
            partition_key=day,
            tags={DISTRIBUTED_ID_TAG: distributed_id},
        )
    config = {"distributed_id": distributed_id}
    finished = finish_daily_readings_job.execute_in_process(
        resources=resources,
        instance=instance,
        run_config={"ops": {"finish_daily_readings": {"config": config}}},
    )
    observed = next(
        event.asset_observation_data.asset_observation.metadata
        for event in finished.all_events
        if event.event_type_value == "ASSET_OBSERVATION"
    )
    return {
        "shard_sizes": readers.output_for_node("shard_sizes"),
        "score_rows": readers.output_for_node("score_rows"),
        "daily_readings_version": observed["wandb_artifact_version"].value,
        "daily_readings_url": observed["wandb_artifact_url"].value,
    }
