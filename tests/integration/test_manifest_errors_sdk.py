"""A manifest that cannot be fetched fails the read with an error naming the asset, the
artifact and the manifest, whichever read needs it (a whole artifact without a payload,
``get`` of a W&B object, a distributed artifact's partitions), through the real SDK and
the local server. The server cuts the manifest's download halfway (its ``drop`` fault);
the SDK does not retry a download cut mid-body."""

import uuid
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    DagsterInstance,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2 import WandbArtifactsIOManagerError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"
NAMED = r"asset '{asset}', input '{input}': could not read the manifest of W&B artifact"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _fails_on_the_manifest(
    server: LocalWandbServer, assets: list[Any], resources: dict[str, Any], reader: str, **kw: Any
) -> None:
    server.faults.drop_next("download")  # the read's first download: the manifest
    try:
        with pytest.raises(WandbArtifactsIOManagerError, match=NAMED.format(**kw)):
            materialize(assets, resources=resources, selection=[reader], **kw.get("run", {}))
    finally:
        server.faults.clear()


def test_a_whole_artifact_read(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex

    @asset(io_manager_key=IO)
    def files() -> wandb.Artifact:
        artifact = wandb.Artifact("files", "dataset")
        with artifact.new_file("data.csv") as file:
            file.write(f"a,{nonce}\n")
        return artifact

    @asset(ins={"files": AssetIn(input_manager_key=IO)})
    def count(files: wandb.Artifact) -> int:
        return len(files.manifest.entries)

    assert materialize([files], resources=local_wandb.resources()).success
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))
    _fails_on_the_manifest(
        local_wandb_server, [files, count], cold, "count", asset="count", input="files"
    )
    assert materialize([files, count], resources=cold, selection=[count]).success


def test_get_of_a_wandb_object(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def table() -> wandb.Table:
        return wandb.Table(columns=["nonce"], data=[[nonce]])

    @asset(ins={"table": AssetIn(input_manager_key=IO, metadata=_config(get="Table"))})
    def first(table: wandb.Table) -> str:
        return str(table.data[0][0])

    assert materialize([table], resources=local_wandb.resources()).success
    cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))
    _fails_on_the_manifest(
        local_wandb_server, [table, first], cold, "first", asset="first", input="table"
    )
    assert (
        materialize([table, first], resources=cold, selection=[first]).output_for_node("first")
        == nonce
    )


def test_a_distributed_artifact_read(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex
    partitions = StaticPartitionsDefinition(["a", "b"])

    @asset(
        partitions_def=partitions,
        metadata=_config(type="dataset", distributed=True),
        io_manager_key=IO,
    )
    def shards(context: AssetExecutionContext) -> dict[str, str]:
        return {key: f"{key}-{nonce}" for key in context.partition_keys}

    @asset(ins={"shards": AssetIn(input_manager_key=IO)})
    def gathered(shards: dict[str, str]) -> list[str]:
        return sorted(shards.values())

    single_run = {
        "dagster/asset_partition_range_start": "a",
        "dagster/asset_partition_range_end": "b",
    }
    with DagsterInstance.ephemeral() as instance:
        written = materialize(
            [shards], resources=local_wandb.resources(), instance=instance, tags=single_run
        )
        assert written.success
        cold = local_wandb.resources(base_dir=str(tmp_path / "reader"))
        _fails_on_the_manifest(
            local_wandb_server,
            [shards, gathered],
            cold,
            "gathered",
            asset="gathered",
            input="shards",
            run={"instance": instance},
        )
        read = materialize(
            [shards, gathered], resources=cold, selection=[gathered], instance=instance
        )
        assert read.output_for_node("gathered") == [f"a-{nonce}", f"b-{nonce}"]
