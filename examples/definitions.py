"""Every example in one ``Definitions`` (``dagster dev -m examples.definitions``)."""

from __future__ import annotations

from dagster import Definitions

from dagster_wandb_v2 import validate_definitions
from examples import (
    advanced,
    distributed,
    experiment_tracking,
    external,
    lineage,
    model_registry,
    multi_asset,
    ops_job,
    partitioned_job,
    partitions,
    serialization,
    simple,
    version_lifecycle,
)
from examples.resources import wandb_resources

all_assets = [
    *simple.assets,
    *advanced.assets,
    *multi_asset.assets,
    *serialization.assets,
    *experiment_tracking.assets,
    *external.assets,
    *partitions.assets,
    *model_registry.assets,
    *version_lifecycle.assets,
    *distributed.assets,
    *lineage.assets,
]

all_jobs = [*ops_job.jobs, *partitioned_job.jobs, *version_lifecycle.jobs, *distributed.jobs]

defs = Definitions(
    assets=all_assets,
    jobs=all_jobs,
    schedules=version_lifecycle.schedules,
    resources=wandb_resources(),
)
validate_definitions(defs)
