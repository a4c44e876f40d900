"""Distributed artifact against one artifact per partition: write and fan-in read.

``python -m benchmarks.distributed_partitions --partitions 100`` starts the
local W&B server in-process (data in a temporary directory, loopback only) and, for each
layout, times with the real wandb SDK:

- ``write``: one Dagster run writing every partition (a single-run backfill): the
  per-partition layout logs one artifact version per partition, ``"distributed": True``
  upserts them into one draft and commits it;
- ``read``: an unpartitioned asset reading every partition (``{partition key: value}``),
  in a run with an empty cache: the per-partition layout looks up each artifact and
  fetches each manifest, the distributed one looks up one version and fetches one manifest.

Besides seconds it counts the HTTP requests the server answered (GraphQL operations and
file transfers) for each step. Both layouts run in the same process, against the same
server, one after the other, after a two-partition warm-up of each. File bodies written in
the same process come from the SDK's own file cache in both layouts, so the requests are
lookups, manifests and commits. Prints one JSON object, ratios per-partition / distributed::

    {"partitions": 100, "per_partition": {"write_s": ..., ...}, "distributed": {...},
     "ratio": {"write_s": ..., "read_s": ..., "write_requests": ..., "read_requests": ...}}
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    DagsterInstance,
    StaticPartitionsDefinition,
    asset,
    materialize,
    mem_io_manager,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

IO = "wandb_artifacts_manager"


def _layout(name: str, keys: list[str], distributed: bool) -> tuple[AssetsDefinition, ...]:
    """A partitioned writer of ~1 KiB per partition and its unpartitioned fan-in reader."""
    partitions = StaticPartitionsDefinition(keys)
    config: dict[str, Any] = {"type": "dataset"}
    if distributed:
        config["distributed"] = True

    @asset(
        name=name,
        partitions_def=partitions,
        metadata={"wandb_artifact_configuration": config},
        io_manager_key=IO,
    )
    def writer(context: AssetExecutionContext) -> dict[str, bytes]:
        return {key: key.encode() * (1024 // len(key)) for key in context.partition_keys}

    @asset(
        name=f"{name}_reader",
        io_manager_key="memory",
        ins={"upstream": AssetIn(key=name, input_manager_key=IO)},
    )
    def reader(upstream: dict[str, bytes]) -> int:
        return len(upstream)

    return writer, reader


def _timed(server: Any, action: Any) -> tuple[float, int]:
    """Seconds and server requests of ``action()``."""
    before = server.request_count
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("a benchmark run failed")
    return elapsed, server.request_count - before


def _measure(
    server: Any,
    instance: DagsterInstance,
    wandb: Any,
    root: Path,
    layout: str,
    keys: list[str],
    distributed: bool,
) -> dict[str, Any]:
    """Write every partition in one run, then read them all in a run with an empty cache."""
    from dagster_wandb_v2 import WandbArtifactsIOManager

    writer, reader = _layout(layout, keys, distributed)
    tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}

    def resources(cache: str) -> dict[str, Any]:
        manager = WandbArtifactsIOManager(wandb=wandb, base_dir=str(root / cache))
        return {IO: manager, "memory": mem_io_manager}

    write_s, write_requests = _timed(
        server,
        lambda: materialize(
            [writer], resources=resources(f"{layout}-write"), instance=instance, tags=tags
        ),
    )
    read_s, read_requests = _timed(
        server,
        lambda: materialize(
            [writer, reader],
            selection=[reader],
            resources=resources(f"{layout}-read"),
            instance=instance,
        ),
    )
    return {
        "write_s": round(write_s, 2),
        "read_s": round(read_s, 2),
        "write_requests": write_requests,
        "read_requests": read_requests,
    }


def run(partitions: int, root: Path) -> dict[str, Any]:
    from dagster_wandb_v2 import WandbResource
    from dagster_wandb_v2.testing.server import (
        DIRECTORY_VARIABLES,
        LocalWandbServer,
        sdk_environment,
    )

    keys = [f"p{index:03d}" for index in range(partitions)]
    report: dict[str, Any] = {"partitions": partitions}
    with LocalWandbServer(data_dir=root / "server") as server:
        os.environ.update(sdk_environment(server.base_url, server.api_key, root / "sdk"))
        for variable in DIRECTORY_VARIABLES:
            Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)
        wandb = WandbResource(api_key=server.api_key, host=server.base_url, project="bench")
        with DagsterInstance.ephemeral() as instance:
            # Warm-up (the SDK's first run starts wandb-core), measured by neither layout.
            for layout, distributed in (("warmup_per", False), ("warmup_distributed", True)):
                _measure(server, instance, wandb, root, layout, keys[:2], distributed)
            for layout, distributed in (("per_partition", False), ("distributed", True)):
                report[layout] = _measure(server, instance, wandb, root, layout, keys, distributed)
    per, dist = report["per_partition"], report["distributed"]
    report["ratio"] = {key: round(per[key] / max(dist[key], 1e-9), 1) for key in per}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=100)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="distributed-bench-") as root:
        print(json.dumps(run(arguments.partitions, Path(root))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
