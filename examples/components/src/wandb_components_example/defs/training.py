"""Assets stored as W&B artifacts through the IO manager the component declares."""

import dagster as dg

from dagster_wandb_v2 import WandbResource


@dg.asset(
    io_manager_key="wandb_artifacts_manager",
    metadata={"wandb_artifact_configuration": {"type": "dataset"}},
)
def training_data() -> list[int]:
    return [1, 2, 3, 4]


@dg.asset(
    ins={"training_data": dg.AssetIn(input_manager_key="wandb_artifacts_manager")},
)
def training_size(training_data: list[int], wandb: WandbResource) -> int:
    dg.get_dagster_logger().info(
        f"{len(training_data)} rows from W&B project {wandb.resolved_project}"
    )
    return len(training_data)
