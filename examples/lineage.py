"""W&B's lineage graph mirroring Dagster's asset lineage, step by step.

Each step reads its inputs through its W&B run (``use_artifact``) and logs its outputs
from it (``log_artifact``), so W&B's graph follows the runs. With ``run_per_step=True``
every step gets its own W&B run under the in-process executor too (the multiprocess
executor, Dagster's default for jobs, always does so): ``vocabulary`` was logged by a
run that used ``tokens`` only, as in Dagster's graph, not by one run that used
everything. All runs of one Dagster run share the W&B group ``<Dagster run id>``.

Walk W&B's side with the public API::

    import wandb

    run = wandb.Api().artifact("my-project/vocabulary:latest").logged_by()
    print([artifact.name for artifact in run.used_artifacts()])  # ['tokens:v0']
"""

from typing import Any

from dagster import AssetIn, DagsterInstance, asset, materialize

from dagster_wandb_v2 import WandbArtifactsIOManager

IO_MANAGER = "wandb_artifacts_manager"
DATASET = {"wandb_artifact_configuration": {"type": "dataset"}}


@asset(metadata=DATASET, io_manager_key=IO_MANAGER)
def raw_text() -> str:
    return "the quick brown fox jumps over the lazy dog"


@asset(
    metadata=DATASET,
    io_manager_key=IO_MANAGER,
    ins={"raw_text": AssetIn(input_manager_key=IO_MANAGER)},
)
def tokens(raw_text: str) -> list[str]:
    return raw_text.split()


@asset(
    metadata=DATASET,
    io_manager_key=IO_MANAGER,
    ins={"tokens": AssetIn(input_manager_key=IO_MANAGER)},
)
def vocabulary(tokens: list[str]) -> list[str]:
    return sorted(set(tokens))


assets = [raw_text, tokens, vocabulary]


def run_example(instance: DagsterInstance, resources: dict[str, Any]) -> dict[str, str]:
    """Materialize the three assets with a W&B run per step; returns each asset's run id."""
    shared: WandbArtifactsIOManager = resources[IO_MANAGER]
    per_step = WandbArtifactsIOManager(
        wandb=shared.wandb,
        base_dir=shared.base_dir,
        cache_duration_in_minutes=shared.cache_duration_in_minutes,
        run_per_step=True,
    )
    result = materialize(assets, resources={**resources, IO_MANAGER: per_step}, instance=instance)
    return {
        event.asset_key.to_user_string(): str(event.materialization.metadata["wandb_run_id"].value)
        for event in result.get_asset_materialization_events()
    }
