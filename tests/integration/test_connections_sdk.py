"""Connections a pipeline opens to W&B, through the real wandb SDK against the local
server: the IO manager reuses one ``wandb.Api`` (each keeps its own idle connections in
wandb-core), so the count does not grow with the number of W&B lookups."""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"
PARTITIONS = StaticPartitionsDefinition(["a", "b"])


def _distributed_asset(name: str) -> AssetsDefinition:
    """A distributed asset: each write reads its draft's manifest and commits it, both
    through the client's ``wandb.Api``."""

    @asset(
        name=name,
        partitions_def=PARTITIONS,
        metadata={"wandb_artifact_configuration": {"type": "dataset", "distributed": True}},
        io_manager_key=IO,
    )
    def shards(context: AssetExecutionContext) -> dict[str, int]:
        return {key: len(key) for key in context.partition_keys}

    return shards


def _connections_opened(
    local_wandb: LocalWandbProject, server: LocalWandbServer, assets: int
) -> int:
    """Connections the server saw opened while one Dagster run wrote ``assets`` assets."""
    definitions = [_distributed_asset(f"shards_{index}") for index in range(assets)]
    before = server.connections_opened
    result = materialize(
        definitions,
        resources=local_wandb.resources(),
        tags={"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "b"},
    )
    assert result.success
    return server.connections_opened - before


def test_connections_do_not_grow_with_the_lookups_of_a_run(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer
) -> None:
    """Each distributed write makes W&B lookups through the client (draft manifest,
    commit, the committed version); with a ``wandb.Api`` and a download per lookup, 8
    assets opened 56 more connections than 1 asset. Now the run, the client's one
    ``wandb.Api`` and its download pool serve them all."""
    few = _connections_opened(local_wandb, local_wandb_server, assets=1)
    many = _connections_opened(local_wandb, local_wandb_server, assets=8)
    assert many - few <= 3, f"1 asset: {few} connections opened, 8 assets: {many}"
