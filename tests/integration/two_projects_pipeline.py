"""Two IO managers on two W&B projects in one job, for the multiprocess executor.

Rebuilt in each step process from the environment: ``TWO_PROJECTS_DATA`` and
``TWO_PROJECTS_MODELS`` (W&B projects), ``TWO_PROJECTS_STORAGE`` (Dagster storage),
``WANDB_BASE_URL``/``WANDB_API_KEY``.
"""

import os
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetIn,
    Definitions,
    JobDefinition,
    asset,
    define_asset_job,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource, step_run


@asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key="data")
def dataset() -> list[int]:
    return [1, 2]


@asset(
    metadata={"wandb_artifact_configuration": {"type": "model"}},
    io_manager_key="models",
    ins={"dataset": AssetIn(input_manager_key="data")},
)
def model(context: AssetExecutionContext, dataset: list[int]) -> int:
    step_run(context, io_manager_key="models").log({"size": len(dataset)})
    return sum(dataset)


@asset(
    metadata={"wandb_artifact_configuration": {"type": "report"}},
    ins={"model": AssetIn(input_manager_key="models")},
    io_manager_key="data",
)
def report(model: int) -> int:
    return model


def resources() -> dict[str, Any]:
    def manager(project: str) -> WandbArtifactsIOManager:
        resource = WandbResource(
            api_key=os.environ["WANDB_API_KEY"], host=os.environ["WANDB_BASE_URL"], project=project
        )
        return WandbArtifactsIOManager(wandb=resource, base_dir=os.environ["TWO_PROJECTS_STORAGE"])

    return {
        "data": manager(os.environ["TWO_PROJECTS_DATA"]),
        "models": manager(os.environ["TWO_PROJECTS_MODELS"]),
    }


def multiprocess_job() -> JobDefinition:
    defs = Definitions(
        assets=[dataset, model, report],
        jobs=[define_asset_job("all", executor_def=multiprocess_executor)],
        resources=resources(),
    )
    return defs.resolve_job_def("all")
