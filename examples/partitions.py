"""The guide's three partition examples: daily, multi-dimensional, per-partition config.

Each partition is its own artifact, ``<asset>.<partition key>``; a multi-dimensional key
gives one segment per dimension, in dimension-name order (``my_multi.red.2023-01-01``).
Readers of several partitions get ``{partition_key: value}`` in partition order.
"""

from typing import Any

import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
)

from dagster_wandb_v2 import WandbArtifactConfiguration

IO_MANAGER = "wandb_artifacts_manager"
DAILY = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-08")
COLORS = StaticPartitionsDefinition(["red", "orange", "yellow", "blue", "green"])


# --- simple: daily partitions ---------------------------------------------------------


@asset(
    partitions_def=DAILY,
    name="my_daily_partitioned_asset",
    metadata={"wandb_artifact_configuration": {"type": "dataset"}},
    io_manager_key=IO_MANAGER,
    # Backfills run as one Dagster run (and one W&B run): the output is then a dict
    # {partition_key: value}, one artifact version per partition.
    backfill_policy=BackfillPolicy.single_run(),
)
def create_my_daily_partitioned_asset(context: AssetExecutionContext) -> Any:
    values = {key: int(key.replace("-", "")) % 97 for key in context.partition_keys}
    if len(values) == 1:
        return next(iter(values.values()))
    return values


@asset(ins={"my_daily_partitioned_asset": AssetIn(input_manager_key=IO_MANAGER)})
def read_all_partitions(
    context: AssetExecutionContext, my_daily_partitioned_asset: dict[str, int]
) -> int:
    for partition, content in my_daily_partitioned_asset.items():
        context.log.info(f"partition={partition}, content={content}")
    return len(my_daily_partitioned_asset)


@asset(
    partitions_def=DAILY,
    ins={
        "my_daily_partitioned_asset": AssetIn(
            input_manager_key=IO_MANAGER,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-1),
        )
    },
)
def read_specific_partitions(
    context: AssetExecutionContext, my_daily_partitioned_asset: Any
) -> list[str]:
    # The first day has no previous day: one partition is the value itself.
    if not isinstance(my_daily_partitioned_asset, dict):
        return [context.partition_key]
    return list(my_daily_partitioned_asset)


# --- multi-dimensional partitions -----------------------------------------------------

MULTI = MultiPartitionsDefinition(
    {
        "date": DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-01-03"),
        "color": StaticPartitionsDefinition(["red", "blue"]),
    }
)


@asset(
    partitions_def=MULTI,
    name="my_multi_partitioned_asset",
    metadata={"wandb_artifact_configuration": {"type": "dataset"}},
    io_manager_key=IO_MANAGER,
)
def create_my_multi_partitioned_asset(context: AssetExecutionContext) -> wandb.Table:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return wandb.Table(columns=["date", "color"], data=[[keys["date"], keys["color"]]])


@asset(
    ins={
        "my_multi_partitioned_asset": AssetIn(
            input_manager_key=IO_MANAGER,
            metadata={"wandb_artifact_configuration": {"partitions": {"*": {"get": "Table"}}}},
        )
    }
)
def read_multi_partitions(my_multi_partitioned_asset: dict[str, wandb.Table]) -> list[str]:
    return [str(key) for key in my_multi_partitioned_asset]


# --- advanced: per-partition read configuration ----------------------------------------


@asset(
    partitions_def=COLORS,
    name="my_colored_partitioned_asset",
    io_manager_key=IO_MANAGER,  # the artifact carries its own type
)
def write_advanced_artifact(context: AssetExecutionContext) -> wandb.Artifact:
    color = context.partition_key
    artifact = wandb.Artifact("my_colored_partitioned_asset", "dataset")
    table_name = "custom_table_name" if color == "yellow" else "default_table_name"
    artifact.add(wandb.Table(columns=["color"], data=[[color]]), table_name)
    return artifact


read_config: WandbArtifactConfiguration = {
    "partitions": {
        "*": {"get": "default_table_name"},
        "yellow": {"get": "custom_table_name"},
        "orange": {"version": "v0"},
        "blue": {"alias": "latest"},
    }
}


@asset(
    ins={
        "my_colored_partitioned_asset": AssetIn(
            input_manager_key=IO_MANAGER,
            metadata={"wandb_artifact_configuration": read_config},
        )
    }
)
def read_objects_directly(my_colored_partitioned_asset: dict[str, wandb.Table]) -> list[str]:
    return [table.get_column("color")[0] for table in my_colored_partitioned_asset.values()]


daily_assets = [create_my_daily_partitioned_asset, read_all_partitions, read_specific_partitions]
multi_assets = [create_my_multi_partitioned_asset, read_multi_partitions]
advanced_assets = [write_advanced_artifact, read_objects_directly]
assets = [*daily_assets, *multi_assets, *advanced_assets]
