"""The guide's ``@multi_asset``: one artifact per ``AssetOut``."""

from __future__ import annotations

import wandb
from dagster import AssetIn, AssetOut, asset, multi_asset

IO_MANAGER = "wandb_artifacts_manager"


@multi_asset(
    name="create_datasets",
    outs={
        "first_table": AssetOut(
            metadata={"wandb_artifact_configuration": {"type": "training_dataset"}},
            io_manager_key=IO_MANAGER,
        ),
        "second_table": AssetOut(
            metadata={"wandb_artifact_configuration": {"type": "validation_dataset"}},
            io_manager_key=IO_MANAGER,
        ),
    },
    group_name="my_multi_asset_group",
)
def create_datasets() -> tuple[wandb.Table, wandb.Table]:
    first_table = wandb.Table(columns=["a", "b", "c"], data=[[1, 2, 3]])
    second_table = wandb.Table(columns=["d", "e"], data=[[4, 5]])
    return first_table, second_table


@asset(
    group_name="my_multi_asset_group",
    ins={
        "first_table": AssetIn(
            metadata={"wandb_artifact_configuration": {"get": "Table"}},
            input_manager_key=IO_MANAGER,
        ),
        "second_table": AssetIn(
            metadata={"wandb_artifact_configuration": {"get": "Table"}},
            input_manager_key=IO_MANAGER,
        ),
    },
)
def column_names(first_table: wandb.Table, second_table: wandb.Table) -> list[str]:
    return [*first_table.columns, *second_table.columns]


assets = [create_datasets, column_names]
