"""``"distributed": True``: folder names, and what is refused before anything is written."""

from typing import Any

import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    Definitions,
    MultiPartitionKey,
    StaticPartitionsDefinition,
    asset,
    job,
    materialize,
    op,
)

from dagster_wandb_v2 import WandbConfigurationError, validate_definitions
from dagster_wandb_v2.distributed import partition_folder
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"
PARTS = StaticPartitionsDefinition(["a", "b"])
DISTRIBUTED = {"wandb_artifact_configuration": {"type": "dataset", "distributed": True}}


@asset(partitions_def=PARTS, metadata=DISTRIBUTED, io_manager_key=IO)
def shards(context: AssetExecutionContext) -> str:
    return context.partition_key


def test_partition_folders_keep_dimensions_apart_and_names_valid() -> None:
    assert partition_folder("2024-01-01") == "partitions/2024-01-01"
    assert partition_folder(MultiPartitionKey({"c": "a.b", "d": "x"})) != partition_folder(
        MultiPartitionKey({"c": "a", "d": "b.x"})
    )
    assert (
        partition_folder("s3://bucket/key")
        == "partitions/s3---bucket-key-" + (partition_folder("s3://bucket/key")[-6:])
    )


def test_readers_of_a_distributed_asset_refuse_per_partition_keys(fake_wandb: FakeWandb) -> None:
    @asset(
        partitions_def=PARTS,
        ins={
            "shards": AssetIn(
                input_manager_key=IO,
                metadata={
                    "wandb_artifact_configuration": {
                        "legacy_partition_names": True,
                        "partitions": {"a": {"version": "v1"}},
                    }
                },
            )
        },
    )
    def reader(shards: str) -> None:
        del shards

    with pytest.raises(WandbConfigurationError) as error:
        validate_definitions(Definitions(assets=[shards, reader], resources=fake_wandb.resources()))
    message = str(error.value)
    assert (
        "asset 'reader', input 'shards': wandb_artifact_configuration.legacy_partition_names"
        in (message)
    )
    assert "wandb_artifact_configuration.partitions.a.version" in message


def test_a_top_level_get_on_a_distributed_upstream_is_valid(fake_wandb: FakeWandb) -> None:
    @asset(
        ins={
            "shards": AssetIn(
                input_manager_key=IO, metadata={"wandb_artifact_configuration": {"get": "shards"}}
            )
        }
    )
    def table_reader(shards: Any) -> None:
        del shards

    validate_definitions(
        Definitions(assets=[shards, table_reader], resources=fake_wandb.resources())
    )


def test_op_outputs_cannot_be_distributed(fake_wandb: FakeWandb) -> None:
    from dagster import Out

    @op(
        out=Out(
            io_manager_key=IO,
            metadata={
                "wandb_artifact_configuration": {
                    "name": "x",
                    "type": "dataset",
                    "distributed": True,
                }
            },
        )
    )
    def produce() -> int:
        return 1

    @job(resource_defs=fake_wandb.resources())
    def produce_job() -> None:
        produce()

    result = produce_job.execute_in_process(raise_on_error=False)
    assert not result.success
    assert "op 'produce', output 'result': wandb_artifact_configuration.distributed: only for" in (
        str(result.all_events)
    )
    assert fake_wandb.collections() == []


def test_signed_io_managers_refuse_distributed_payloads(fake_wandb: FakeWandb) -> None:
    resources = fake_wandb.resources(signing_key="secret")
    result = materialize([shards], resources=resources, partition_key="a", raise_on_error=False)
    assert not result.success
    assert "not supported with WandbArtifactsIOManager.signing_key" in str(result.all_events)
    assert fake_wandb.collections() == []
