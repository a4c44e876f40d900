"""A fan-out job for the multiprocess executor: one writer, 8 parallel reader-writers, one
collector, every step in its own process and all of them sharing one cache directory.

Rebuilt in each step process from the environment: ``CONCURRENCY_PROJECT`` (W&B project),
``CONCURRENCY_STORAGE`` (the shared Dagster storage and cache directory),
``WANDB_BASE_URL``/``WANDB_API_KEY``.
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

from dagster import (
    AssetIn,
    AssetsDefinition,
    Definitions,
    JobDefinition,
    asset,
    define_asset_job,
    multiprocess_executor,
)

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "dataset"}}
FAN_OUT = 8
SOURCE = random.Random(0).randbytes(2 << 20)
"""2 MiB the source step writes and every fan-out step reads."""


def fan_value(index: int, source: bytes) -> dict[str, Any]:
    """What fan-out step ``index`` writes: its own bytes, derived from what it read."""
    return {
        "index": index,
        "source_sha256": hashlib.sha256(source).hexdigest(),
        "data": bytes([index]) * (1 << 20) + source[: 1 << 20],
    }


@asset(metadata=CONFIG, io_manager_key=IO)
def source() -> bytes:
    return SOURCE


def _fan(index: int) -> AssetsDefinition:
    @asset(
        name=f"fan_{index}",
        metadata=CONFIG,
        io_manager_key=IO,
        ins={"source": AssetIn(input_manager_key=IO)},
    )
    def fan(source: bytes) -> dict[str, Any]:
        return fan_value(index, source)

    return fan


FANS = [_fan(index) for index in range(FAN_OUT)]


@asset(
    ins={f"fan_{index}": AssetIn(input_manager_key=IO) for index in range(FAN_OUT)},
    metadata=CONFIG,
    io_manager_key=IO,
)
def collected(**fans: dict[str, Any]) -> dict[str, str]:
    """The SHA-256 of every fan-out value as read back here."""
    return {
        name: hashlib.sha256(repr(sorted(value.items())).encode()).hexdigest()
        for name, value in fans.items()
    }


def resources() -> dict[str, Any]:
    wandb = WandbResource(
        api_key=os.environ["WANDB_API_KEY"],
        host=os.environ["WANDB_BASE_URL"],
        project=os.environ["CONCURRENCY_PROJECT"],
    )
    return {IO: WandbArtifactsIOManager(wandb=wandb, base_dir=os.environ["CONCURRENCY_STORAGE"])}


def fan_out_job() -> JobDefinition:
    defs = Definitions(
        assets=[source, *FANS, collected],
        jobs=[
            define_asset_job(
                "fan_out",
                executor_def=multiprocess_executor.configured({"max_concurrent": FAN_OUT}),
            )
        ],
        resources=resources(),
    )
    return defs.resolve_job_def("fan_out")
