"""Version lifecycle steps (promote, update, link, clean up) as Dagster ops and assets,
through the real wandb SDK against the local W&B-compatible server."""

import uuid
from typing import Any

import pytest
from dagster import AssetExecutionContext, AssetKey, Definitions, asset, job, materialize

from dagster_wandb_v2 import (
    CleanUpVersions,
    LinkVersion,
    PromoteVersion,
    UpdateVersion,
    WandbArtifactNotFoundError,
    WandbConfigurationError,
    build_wandb_lifecycle_asset,
    build_wandb_lifecycle_op,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"


def _model_asset() -> Any:
    @asset(
        metadata={"wandb_artifact_configuration": {"type": "model"}},
        io_manager_key=IO,
        config_schema={"weights": int},
    )
    def model(context: AssetExecutionContext) -> dict[str, int]:
        return {"weights": context.op_execution_context.op_config["weights"]}

    return model


def _materialize_versions(local_wandb: LocalWandbProject, count: int) -> Any:
    model = _model_asset()
    resources = local_wandb.resources()
    for weights in range(count):
        run_config = {"ops": {"model": {"config": {"weights": weights}}}}
        assert materialize([model], resources=resources, run_config=run_config).success
    return model


def _aliases(local_wandb: LocalWandbProject) -> dict[str, list[str]]:
    versions = local_wandb.api().artifacts("model", local_wandb.path("model"))
    return {version.version: sorted(version.aliases) for version in versions}


def _run_op(op_def: Any, local_wandb: LocalWandbProject, run_config: Any = None) -> Any:
    @job(name=f"job_{op_def.name}")
    def lifecycle_job() -> None:
        op_def()

    return lifecycle_job.execute_in_process(
        resources=local_wandb.resources(), run_config=run_config, raise_on_error=False
    )


def _error(result: Any, op_name: str) -> Any:
    """The error the op raised (Dagster wraps it in a step execution error)."""
    error = result.failure_data_for_node(op_name).error
    return error.cause or error


def _metadata(result: Any, op_name: str) -> dict[str, Any]:
    (event,) = [e for e in result.events_for_node(op_name) if e.event_type_value == "STEP_OUTPUT"]
    return {key: value.value for key, value in event.step_output_data.metadata.items()}


def test_promote_moves_an_alias_and_reports_it(local_wandb: LocalWandbProject) -> None:
    _materialize_versions(local_wandb, 3)
    first = build_wandb_lifecycle_op(
        PromoteVersion(asset="model", version="v0", aliases=["production"]), name="promote_v0"
    )
    assert _run_op(first, local_wandb).success
    second = build_wandb_lifecycle_op(
        PromoteVersion(asset="model", aliases=["production", "best"]), name="promote_latest"
    )
    result = _run_op(second, local_wandb)
    assert result.success
    aliases = _aliases(local_wandb)
    assert "production" not in aliases["v0"]
    assert {"production", "best", "latest"} <= set(aliases["v2"])
    metadata = _metadata(result, "promote_latest")
    assert metadata["wandb_artifact_version"] == "v2"
    assert metadata["wandb_aliases_moved_from"] == {"production": "v0"}
    assert metadata["wandb_aliases_added"] == ["production", "best"]


def test_promoting_from_a_missing_alias_names_the_asset_and_changes_nothing(
    local_wandb: LocalWandbProject,
) -> None:
    _materialize_versions(local_wandb, 2)
    before = _aliases(local_wandb)
    promote = build_wandb_lifecycle_op(
        PromoteVersion(asset="model", version="candidate", aliases=["production"]),
        name="promote_candidate",
    )
    result = _run_op(promote, local_wandb)
    assert not result.success
    error = _error(result, "promote_candidate")
    assert error.cls_name == WandbArtifactNotFoundError.__name__
    assert "op 'promote_candidate': promote of asset 'model'" in error.message
    assert "version: the collection has no alias 'candidate'" in error.message
    assert _aliases(local_wandb) == before


def test_update_sets_description_and_merges_metadata(local_wandb: LocalWandbProject) -> None:
    _materialize_versions(local_wandb, 1)
    update = build_wandb_lifecycle_asset(
        UpdateVersion(asset="model", description="Evaluated", metadata={"accuracy": 0.93}),
        name="model_notes",
    )
    result = materialize([update], resources=local_wandb.resources())
    assert result.success
    stored = local_wandb.api().artifact(local_wandb.path("model:latest"))
    assert stored.description == "Evaluated"
    assert stored.metadata["accuracy"] == 0.93
    assert stored.metadata["source_integration"] == "dagster_wandb_v2"  # kept
    (materialization,) = result.asset_materializations_for_node("model_notes")
    assert materialization.metadata["wandb_metadata_keys_set"].value == ["accuracy"]


def test_link_after_an_evaluation_asset(local_wandb: LocalWandbProject) -> None:
    model = _model_asset()

    @asset(deps=[model])
    def evaluation() -> float:
        return 0.93

    collection = f"models-{uuid.uuid4().hex[:8]}"
    link = build_wandb_lifecycle_asset(
        LinkVersion(
            asset="model", target_path=f"wandb-registry-model/{collection}", aliases=["staging"]
        ),
        name="registered_model",
        deps=[evaluation],
    )
    result = materialize(
        [model, evaluation, link],
        resources=local_wandb.resources(),
        run_config={"ops": {"model": {"config": {"weights": 1}}}},
    )
    assert result.success
    (linked,) = local_wandb.api().artifact(local_wandb.path("model:v0")).linked_artifacts
    assert linked.qualified_name.endswith(f"wandb-registry-model/{collection}:v0")
    assert "staging" in linked.aliases
    (materialization,) = result.asset_materializations_for_node("registered_model")
    assert materialization.metadata["wandb_registry_url"].value.startswith("http://127.0.0.1")


def test_clean_up_is_a_dry_run_by_default_and_keeps_protected_versions(
    local_wandb: LocalWandbProject,
) -> None:
    _materialize_versions(local_wandb, 5)
    api = local_wandb.api()
    production = api.artifact(local_wandb.path("model:v1"))
    production.aliases.append("production")
    production.save()
    api.artifact(local_wandb.path("model:v2")).link(
        f"wandb-registry-model/kept-{uuid.uuid4().hex[:8]}"
    )
    clean_up = build_wandb_lifecycle_op(CleanUpVersions(asset="model"), name="clean_up_model")

    dry = _run_op(clean_up, local_wandb)
    assert dry.success
    assert _metadata(dry, "clean_up_model")["wandb_would_delete_versions"] == ["v0", "v3"]
    assert sorted(_aliases(local_wandb)) == ["v0", "v1", "v2", "v3", "v4"]

    wet = _run_op(
        clean_up, local_wandb, {"ops": {"clean_up_model": {"config": {"dry_run": False}}}}
    )
    assert wet.success
    metadata = _metadata(wet, "clean_up_model")
    assert metadata["wandb_deleted_versions"] == ["v0", "v3"]
    assert set(metadata["wandb_kept_versions"]) == {"v1", "v2", "v4"}
    assert sorted(_aliases(local_wandb)) == ["v1", "v2", "v4"]


def test_clean_up_asked_to_delete_an_aliased_version_deletes_nothing(
    local_wandb: LocalWandbProject,
) -> None:
    _materialize_versions(local_wandb, 3)
    clean_up = build_wandb_lifecycle_op(
        CleanUpVersions(asset="model", versions=["v0", "v2"], dry_run=False), name="clean_up"
    )
    result = _run_op(clean_up, local_wandb)
    assert not result.success
    error = _error(result, "clean_up")
    assert error.cls_name == WandbConfigurationError.__name__
    assert "clean_up of asset 'model': versions: v2 is protected by aliases ['latest']" in (
        error.message
    )
    assert sorted(_aliases(local_wandb)) == ["v0", "v1", "v2"]


@pytest.mark.parametrize("alias", ["latest", "v3", "dagster-run-abcdef12"])
def test_reserved_aliases_are_refused_when_the_step_is_built(alias: str) -> None:
    pattern = rf"promote of asset 'model': aliases\.0: .*'{alias}'.*reserve"
    with pytest.raises(WandbConfigurationError, match=pattern):
        PromoteVersion(asset="model", aliases=[alias])


def test_a_partitioned_asset_gets_its_partition_version(local_wandb: LocalWandbProject) -> None:
    from dagster import StaticPartitionsDefinition

    colors = StaticPartitionsDefinition(["red", "blue"])

    @asset(
        partitions_def=colors,
        metadata={"wandb_artifact_configuration": {"type": "dataset"}},
        io_manager_key=IO,
    )
    def paint(context: AssetExecutionContext) -> str:
        return str(context.partition_key)

    promote = build_wandb_lifecycle_asset(
        PromoteVersion(asset="paint", aliases=["approved"]),
        name="approved_paint",
        deps=[paint],
        partitions_def=colors,
    )
    defs = Definitions(assets=[paint, promote], resources=local_wandb.resources())
    from dagster_wandb_v2 import validate_definitions

    validate_definitions(defs)
    assert materialize([paint, promote], resources=local_wandb.resources(), partition_key="blue")
    blue = local_wandb.api().artifact(local_wandb.path("paint.blue:latest"))
    assert "approved" in blue.aliases
    assert AssetKey("approved_paint") in defs.resolve_asset_graph().get_all_asset_keys()
