"""A pipeline with fan-out (a multi-asset), partitions and fan-in, for the lineage test.

Rebuilt from the environment in each step process (multiprocess executor):
``LINEAGE_TEST_PROJECT`` and ``LINEAGE_TEST_STORAGE`` besides the ``WANDB_*`` variables.
"""

import os
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetOut,
    Definitions,
    JobDefinition,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    in_process_executor,
    multi_asset,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
COLORS = StaticPartitionsDefinition(["red", "blue"])


@asset(metadata=CONFIG, io_manager_key=IO)
def raw() -> list[int]:
    return [1, 2, 3, 4]


@multi_asset(
    outs={
        "train": AssetOut(metadata=CONFIG, io_manager_key=IO),
        "test": AssetOut(metadata=CONFIG, io_manager_key=IO),
    }
)
def split(raw: list[int]) -> tuple[list[int], list[int]]:
    return raw[:3], raw[3:]


@asset(partitions_def=COLORS, metadata=CONFIG, io_manager_key=IO)
def features(context: AssetExecutionContext, train: list[int]) -> list[str]:
    return [f"{context.partition_key}-{value}" for value in train]


@asset(metadata=CONFIG, io_manager_key=IO)
def model(features: dict[str, list[str]], test: list[int]) -> dict[str, Any]:
    return {"features": sorted(features), "test": test}


@asset(metadata=CONFIG, io_manager_key=IO)
def report(model: dict[str, Any], raw: list[int]) -> str:
    return f"{model['features']} on {len(raw)} rows"


ASSETS = [raw, split, features, model, report]
STAGES = {"prepare": [raw, split], "featurize": [features], "train": [model, report]}


def definitions(executor: str = "multiprocess", run_per_step: bool = False) -> Definitions:
    wandb = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["LINEAGE_TEST_PROJECT"],
    )
    executor_def = (
        multiprocess_executor.configured({"max_concurrent": 2})
        if executor == "multiprocess"
        else in_process_executor
    )
    return Definitions(
        assets=ASSETS,
        jobs=[
            define_asset_job(name, selection=selected, executor_def=executor_def)
            for name, selected in STAGES.items()
        ],
        resources={
            IO: WandbArtifactsIOManager(
                wandb=wandb,
                base_dir=os.environ["LINEAGE_TEST_STORAGE"],
                run_per_step=run_per_step,
            )
        },
    )


def prepare_job() -> JobDefinition:
    return definitions().resolve_job_def("prepare")


def featurize_job() -> JobDefinition:
    return definitions().resolve_job_def("featurize")


def train_job() -> JobDefinition:
    return definitions().resolve_job_def("train")
