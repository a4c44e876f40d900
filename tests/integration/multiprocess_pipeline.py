"""A job for the multiprocess executor; rebuilt in each step process from the environment."""

from __future__ import annotations

import os
from typing import Any

from dagster import (
    AssetIn,
    Definitions,
    JobDefinition,
    asset,
    define_asset_job,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}


@asset(metadata=CONFIG, io_manager_key=IO)
def source() -> list[int]:
    return [1, 2, 3]


@asset(metadata=CONFIG, io_manager_key=IO, ins={"source": AssetIn(input_manager_key=IO)})
def doubled(source: list[int]) -> list[int]:
    return [2 * value for value in source]


@asset(metadata=CONFIG, io_manager_key=IO, ins={"source": AssetIn(input_manager_key=IO)})
def squared(source: list[int]) -> list[int]:
    return [value * value for value in source]


def resources() -> dict[str, Any]:
    wandb = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["MULTIPROCESS_TEST_PROJECT"],
    )
    return {
        IO: WandbArtifactsIOManager(wandb=wandb, base_dir=os.environ["MULTIPROCESS_TEST_STORAGE"])
    }


def multiprocess_job() -> JobDefinition:
    defs = Definitions(
        assets=[source, doubled, squared],
        jobs=[
            define_asset_job(
                "all", executor_def=multiprocess_executor.configured({"max_concurrent": 2})
            )
        ],
        resources=resources(),
    )
    return defs.resolve_job_def("all")
