"""Two writers of one W&B artifact (real wandb SDK against the local server): an asset's
artifact is written by that asset only, at load time (``validate_definitions``) and at run
time (the run's other assets), and IO managers on different projects do not clash."""

from typing import Any

import pytest
from dagster import (
    AssetKey,
    AssetOut,
    AssetsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    ExecuteInProcessResult,
    Out,
    StaticPartitionsDefinition,
    asset,
    graph,
    job,
    materialize,
    multi_asset,
    op,
)

from dagster_wandb_v2 import (
    WandbArtifactsIOManager,
    WandbConfigurationError,
    WandbResource,
    validate_definitions,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _error_of(result: ExecuteInProcessResult) -> str:
    failures = result.get_step_failure_events()
    assert failures
    error = failures[0].step_failure_data.error
    assert error is not None
    while not error.message.startswith("dagster_wandb_v2.errors.") and error.cause is not None:
        error = error.cause
    return error.message.split(": ", 1)[1].strip()


def _written(project: LocalWandbProject, name: str) -> bool:
    return bool(project.api().artifact_collection_exists(project.path(name), "dataset"))


def _team_scores() -> Any:
    @multi_asset(
        outs={
            "nested": AssetOut(
                key=["team", "scores"], metadata=_config(type="dataset"), io_manager_key=IO
            ),
            "flat": AssetOut(
                key=["team__scores"], metadata=_config(type="dataset"), io_manager_key=IO
            ),
        }
    )
    def scores() -> tuple[list[int], list[int]]:
        return [1], [2]

    return scores


def test_two_assets_of_one_run_sharing_an_artifact_fail_before_writing(
    local_wandb: LocalWandbProject,
) -> None:
    result = materialize([_team_scores()], resources=local_wandb.resources(), raise_on_error=False)

    assert not result.success
    assert _error_of(result) == (
        "asset 'team/scores', output 'nested': asset 'team__scores' is written to the W&B "
        "artifact 'team__scores' too; an asset's artifact is written by that asset only: "
        "rename one of them"
    )
    assert not _written(local_wandb, "team__scores")


def test_a_graph_backed_asset_sharing_an_artifact_is_reported_and_refused(
    local_wandb: LocalWandbProject,
) -> None:
    @op(out=Out(metadata=_config(type="dataset"), io_manager_key=IO))
    def compute() -> list[int]:
        return [1]

    @graph
    def pipeline() -> Any:
        return compute()

    nested = AssetsDefinition.from_graph(
        pipeline, keys_by_output_name={"result": AssetKey(["team", "scores"])}
    )

    @asset(key="team__scores", metadata=_config(type="dataset"), io_manager_key=IO)
    def flat() -> list[int]:
        return [2]

    defs = Definitions(assets=[nested, flat], resources=local_wandb.resources())
    with pytest.raises(WandbConfigurationError) as raised:
        validate_definitions(defs)
    assert raised.value.problems == [
        "asset 'team__scores', output 'result': assets 'team/scores' and 'team__scores' would "
        "both be written to the W&B artifact 'team__scores'; rename one of the assets"
    ]
    result = materialize([nested, flat], resources=local_wandb.resources(), raise_on_error=False)
    assert "is written to the W&B artifact 'team__scores' too" in _error_of(result)
    assert not _written(local_wandb, "team__scores")


def test_partitions_and_op_names_that_take_an_assets_artifact_are_load_time_errors(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(
        partitions_def=StaticPartitionsDefinition(["a", "b"]),
        metadata=_config(type="dataset"),
        io_manager_key=IO,
    )
    def x() -> int:
        return 1

    @asset(key=["x.a"], metadata=_config(type="dataset"), io_manager_key=IO)
    def dotted() -> int:
        return 2

    @asset(
        partitions_def=DynamicPartitionsDefinition(name="files"),
        metadata=_config(type="dataset"),
        io_manager_key=IO,
    )
    def raw() -> int:
        return 3

    @asset(key=["raw.latest"], metadata=_config(type="dataset"), io_manager_key=IO)
    def raw_latest() -> int:
        return 4

    @op(out=Out(io_manager_key=IO, metadata=_config(type="model", name="x.b")))
    def train() -> int:
        return 5

    @op(out=Out(io_manager_key=IO, metadata=_config(type="model", name="x.b")))
    def retrain() -> int:
        return 6

    @job
    def training() -> None:
        train()
        retrain()

    defs = Definitions(
        assets=[x, dotted, raw, raw_latest], jobs=[training], resources=local_wandb.resources()
    )
    with pytest.raises(WandbConfigurationError) as raised:
        validate_definitions(defs)
    assert raised.value.problems == [
        "asset 'x.a', output 'result': partition 'a' of asset 'x' and asset 'x.a' would both "
        "be written to the W&B artifact 'x.a'; an asset's artifact is written by that asset "
        "only: rename one of them",
        "op 'train', output 'result': partition 'b' of asset 'x' and op 'train' output 'result' "
        "would both be written to the W&B artifact 'x.b'; an asset's artifact is written by "
        "that asset only: rename one of them",
        "op 'retrain', output 'result': partition 'b' of asset 'x' and op 'retrain' output "
        "'result' would both be written to the W&B artifact 'x.b'; an asset's artifact is "
        "written by that asset only: rename one of them",
        "asset 'raw.latest', output 'result': the dynamic partitions of asset 'raw' and asset "
        "'raw.latest' would both be written to the W&B artifact 'raw.latest' (a partition "
        "keyed 'latest'); an asset's artifact is written by that asset only: rename one of them",
    ]
    # Written anyway, the partition and the asset would share one collection:
    resources = local_wandb.resources()
    materialize([x], resources=resources, partition_key="a")
    materialize([dotted], resources=resources)
    versions = local_wandb.api().artifacts("dataset", local_wandb.path("x.a"))
    assert len(versions) == 2


def test_the_same_name_in_two_projects_is_two_artifacts(local_wandb: LocalWandbProject) -> None:
    resources = local_wandb.resources()
    other = WandbResource(
        api_key=local_wandb.api_key,
        host=local_wandb.base_url,
        entity=local_wandb.entity,
        project=f"{local_wandb.project}-other",
    )
    resources["other_project"] = WandbArtifactsIOManager(
        wandb=other, base_dir=str(local_wandb.storage_dir)
    )

    @multi_asset(
        outs={
            "nested": AssetOut(
                key=["team", "scores"], metadata=_config(type="dataset"), io_manager_key=IO
            ),
            "flat": AssetOut(
                key=["team__scores"],
                metadata=_config(type="dataset"),
                io_manager_key="other_project",
            ),
        }
    )
    def scores() -> tuple[list[int], list[int]]:
        return [1], [2]

    validate_definitions(Definitions(assets=[scores], resources=resources))
    assert materialize([scores], resources=resources).success
    api = local_wandb.api()
    here = api.artifact(local_wandb.path("team__scores:latest"))
    there = api.artifact(f"{local_wandb.entity}/{local_wandb.project}-other/team__scores:latest")
    assert here.metadata["source_dagster_run_id"] == there.metadata["source_dagster_run_id"]
