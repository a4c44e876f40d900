"""Materialize every example end to end: ``python -m examples``.

Without ``WANDB_API_KEY`` in the environment, a local W&B-compatible server is started
in-process with its data in ``.example-data/`` (kept between runs, so artifacts gain
versions and re-reads hit the cache). With ``WANDB_API_KEY`` (and ``WANDB_BASE_URL`` for a
dedicated server) exported, the examples run against that W&B instead.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

DATA_DIR = Path(os.environ.get("EXAMPLES_DATA_DIR", ".example-data")).resolve()


@contextmanager
def wandb_backend() -> Iterator[str]:
    """W&B from the environment, or the embedded local server; yields a description."""
    if os.environ.get("WANDB_API_KEY"):
        yield os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
        return
    from dagster_wandb_v2.testing.server import local_wandb_server

    with local_wandb_server(data_dir=DATA_DIR / "wandb-server") as server:
        os.environ.update(
            WANDB_API_KEY=server.api_key,
            WANDB_BASE_URL=server.base_url,
            WANDB_SILENT="true",
            WANDB_DIR=str(DATA_DIR / "wandb-client"),
        )
        (DATA_DIR / "wandb-client").mkdir(parents=True, exist_ok=True)
        try:
            yield f"local W&B-compatible server at {server.base_url} (data: {server.data_dir})"
        finally:
            for key in ("WANDB_API_KEY", "WANDB_BASE_URL"):
                os.environ.pop(key, None)


def _urls(result: Any) -> list[str]:
    """The W&B URLs recorded in a run's output and materialization metadata."""
    urls: list[str] = []
    for event in result.all_events:
        data = event.event_specific_data
        metadata = getattr(getattr(data, "materialization", data), "metadata", None) or {}
        found = [metadata["wandb_artifact_url"].value] if "wandb_artifact_url" in metadata else []
        if "wandb_artifact_urls" in metadata:
            found = list(metadata["wandb_artifact_urls"].value.values())
        urls += [url for url in found if url not in urls]
    return urls


def run_examples(instance: DagsterInstance) -> list[str]:
    """Materialize every example; returns the W&B URL of every artifact version written."""
    from examples import (
        advanced,
        experiment_tracking,
        external,
        model_registry,
        multi_asset,
        ops_job,
        partitioned_job,
        partitions,
        serialization,
        simple,
    )
    from examples.resources import wandb_resources

    resources = wandb_resources()
    urls: list[str] = []

    external.publish_external_artifact(resources["wandb"])
    unpartitioned = [
        *simple.assets,
        *advanced.assets,
        *multi_asset.assets,
        *serialization.assets,
        *experiment_tracking.assets,
        *external.assets,
    ]
    urls += _urls(materialize(unpartitioned, resources=resources, instance=instance))
    urls += _urls(
        ops_job.simple_job_example.execute_in_process(resources=resources, instance=instance)
    )

    # A 7-day backfill in a single run, then the two readers.
    daily = partitions.create_my_daily_partitioned_asset
    backfill = {
        ASSET_PARTITION_RANGE_START_TAG: "2023-01-01",
        ASSET_PARTITION_RANGE_END_TAG: "2023-01-07",
    }
    urls += _urls(materialize([daily], resources=resources, instance=instance, tags=backfill))
    materialize(
        partitions.daily_assets,
        resources=resources,
        instance=instance,
        selection=[partitions.read_all_partitions],
    )
    materialize(
        partitions.daily_assets,
        resources=resources,
        instance=instance,
        partition_key="2023-01-03",
        selection=[partitions.read_specific_partitions],
    )
    for key in partitions.MULTI.get_partition_keys():
        writer = [partitions.create_my_multi_partitioned_asset]
        urls += _urls(
            materialize(writer, resources=resources, instance=instance, partition_key=key)
        )
    materialize(
        partitions.multi_assets,
        resources=resources,
        instance=instance,
        selection=[partitions.read_multi_partitions],
    )
    for color in partitions.COLORS.get_partition_keys():
        writer = [partitions.write_advanced_artifact]
        urls += _urls(
            materialize(writer, resources=resources, instance=instance, partition_key=color)
        )
    materialize(
        partitions.advanced_assets,
        resources=resources,
        instance=instance,
        selection=[partitions.read_objects_directly],
    )
    for key in model_registry.LEARNING_RATES.get_partition_keys():
        writer = [model_registry.candidate_model]
        urls += _urls(
            materialize(writer, resources=resources, instance=instance, partition_key=key)
        )
    urls += _urls(
        materialize(
            model_registry.assets,
            resources=resources,
            instance=instance,
            selection=[model_registry.production_model],
        )
    )
    if importlib.util.find_spec("skl2onnx") and importlib.util.find_spec("onnxruntime"):
        from examples import onnx_model

        urls += _urls(materialize(onnx_model.assets, resources=resources, instance=instance))
    else:
        print('(ONNX example skipped: pip install "dagster-wandb-v2[onnx]")', flush=True)
    for region in partitioned_job.REGIONS.get_partition_keys():
        urls += _urls(
            partitioned_job.partitioned_job_example.execute_in_process(
                resources=resources, instance=instance, partition_key=region
            )
        )
    from examples import version_lifecycle

    lifecycle = version_lifecycle.run_example(instance, resources)
    print(
        "Version lifecycle: the dry run would delete "
        f"{lifecycle['dry_run']['wandb_would_delete_versions']}, the cleanup deleted "
        f"{lifecycle['deleted']['wandb_deleted_versions']}, kept "
        f"{lifecycle['deleted']['wandb_kept_versions']}",
        flush=True,
    )

    from examples import lineage

    step_runs = lineage.run_example(instance, resources)
    print(f"Lineage: one W&B run per step (run_per_step): {step_runs}", flush=True)
    from examples import distributed

    gathered = distributed.run_example(instance, resources)
    print(
        f"Distributed artifacts: shard sizes {gathered['shard_sizes']}, "
        f"{gathered['score_rows']} table rows, daily_readings "
        f"{gathered['daily_readings_version']} finished explicitly",
        flush=True,
    )
    urls.append(gathered["daily_readings_url"])
    from examples import react_to_wandb

    reacted = react_to_wandb.run_example(instance, resources)
    print(f"Reacting to W&B: evaluation scores {reacted['scores']}, checks:", flush=True)
    for asset_key, (passed, description) in reacted["checks"].items():
        print(f"  {asset_key}: {'passed' if passed else 'FAILED'}: {description}", flush=True)
    print("  links reported by the sensor:", *reacted["urls"], sep="\n    ", flush=True)
    from examples import launch

    launched = launch.run_example(instance, resources)
    print(
        f"W&B Launch: the agent ran the queued job as a local process: run "
        f"{launched['run_state']} at {launched['run_url']}, trained weight "
        f"{launched['weight']:.3f} read back through the IO manager",
        flush=True,
    )
    return urls


def main() -> int:
    started = time.monotonic()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Where the SDK itself downloads when asset code calls ``artifact.get(...)`` on an
    # artifact it received (the SDK's default is ./artifacts in the working directory).
    os.environ.setdefault("WANDB_ARTIFACT_DIR", str(DATA_DIR / "wandb-artifacts"))
    with wandb_backend() as backend:
        print(f"W&B backend: {backend}", flush=True)
        (DATA_DIR / "dagster").mkdir(exist_ok=True)
        with DagsterInstance.local_temp(tempdir=str(DATA_DIR / "dagster")) as instance:
            urls = run_examples(instance)
    print(f"\n{len(urls)} artifact versions written in {time.monotonic() - started:.1f} s:")
    for url in urls:
        print(f"  {url}")
    print(f"\nLocal data (server store, Dagster storage and artifact cache): {DATA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
