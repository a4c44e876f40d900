"""Version lifecycle steps on the in-memory fake: configuration errors, load-time checks by
``validate_definitions``, and the cleanup's choice of versions."""

from typing import Any

import pytest
from dagster import (
    AssetExecutionContext,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2 import (
    CleanUpVersions,
    LinkVersion,
    PromoteVersion,
    UpdateVersion,
    WandbConfigurationError,
    build_wandb_lifecycle_asset,
    build_wandb_lifecycle_op,
    run_lifecycle_step,
    validate_definitions,
)
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"
CONFIG = {"wandb_artifact_configuration": {"type": "model"}}


@asset(metadata=CONFIG, io_manager_key=IO, config_schema={"weights": int})
def model(context: AssetExecutionContext) -> dict[str, int]:
    return {"weights": context.op_execution_context.op_config["weights"]}


def _versions(fake: FakeWandb, resources: dict[str, Any], count: int) -> None:
    for weights in range(count):
        config = {"ops": {"model": {"config": {"weights": weights}}}}
        assert materialize([model], resources=resources, run_config=config).success


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PromoteVersion(aliases=["x"]), "asset, artifact: give exactly one of them"),
        (lambda: PromoteVersion(asset="m"), "aliases: give at least one alias"),
        (lambda: PromoteVersion(asset="m", aliases=["a/b"]), "aliases.0: invalid alias 'a/b'"),
        (lambda: PromoteVersion(asset="m", aliases=["Best", "best"]), "differ only in letter"),
        (lambda: UpdateVersion(asset="m"), "description, metadata: give at least one"),
        (lambda: LinkVersion(asset="m", target_path="models/x"), "is not a registry path"),
        (
            lambda: LinkVersion(artifact="bad name", target_path="wandb-registry-model/x"),
            "artifact",
        ),
        (lambda: CleanUpVersions(asset="m", versions=["latest"]), "versions.0: 'latest' is not"),
        (lambda: PromoteVersion(asset="m", aliases=["x"], alises=["y"]), "did you mean 'alias"),
    ],
)
def test_bad_configuration_is_refused_when_built(build: Any, message: str) -> None:
    with pytest.raises(WandbConfigurationError, match=message):
        build()


def test_validate_definitions_names_the_step_asset_and_key(fake_wandb: FakeWandb) -> None:
    colors = StaticPartitionsDefinition(["red", "blue"])

    @asset(partitions_def=colors, metadata=CONFIG, io_manager_key=IO)
    def paint() -> int:
        return 1

    @asset
    def in_memory() -> int:
        return 1

    steps = [
        build_wandb_lifecycle_asset(PromoteVersion(asset="modle", aliases=["a"]), name="typo"),
        build_wandb_lifecycle_asset(PromoteVersion(asset="in_memory", aliases=["a"]), name="mem"),
        build_wandb_lifecycle_asset(PromoteVersion(asset="paint", aliases=["a"]), name="nopart"),
        build_wandb_lifecycle_asset(
            CleanUpVersions(asset="paint", partition="green"), name="green"
        ),
        build_wandb_lifecycle_asset(
            CleanUpVersions(asset="model", partition="red"), name="unpartitioned"
        ),
        build_wandb_lifecycle_asset(CleanUpVersions(asset="paint", partition="red"), name="ok"),
    ]
    defs = Definitions(assets=[model, paint, in_memory, *steps], resources=fake_wandb.resources())
    with pytest.raises(WandbConfigurationError) as raised:
        validate_definitions(defs)
    assert raised.value.problems == [
        "op 'typo': promote of asset 'modle': asset: 'modle' is not an asset of these "
        "definitions (did you mean 'model'?)",
        "op 'mem': promote of asset 'in_memory': asset: 'in_memory' is not written by a W&B IO "
        "manager (its IO manager is 'io_manager'), so W&B holds no versions of it",
        "op 'nopart': promote of asset 'paint': partition: asset 'paint' is partitioned (one "
        "W&B artifact per partition); give the partition, or partitions_def to the lifecycle "
        "asset",
        "op 'green': clean_up of asset 'paint', partition 'green': partition: asset 'paint' "
        "has no partition 'green'",
        "op 'unpartitioned': clean_up of asset 'model', partition 'red': partition: asset "
        "'model' is not partitioned",
    ]


def test_validate_definitions_checks_lifecycle_ops_of_jobs(fake_wandb: FakeWandb) -> None:
    from dagster import job

    promote = build_wandb_lifecycle_op(PromoteVersion(asset="modle", aliases=["a"]), name="p")

    @job
    def promote_job() -> None:
        promote()

    defs = Definitions(assets=[model], jobs=[promote_job], resources=fake_wandb.resources())
    with pytest.raises(WandbConfigurationError, match="op 'p': promote of asset 'modle'"):
        validate_definitions(defs)


def test_clean_up_keeps_the_newest_and_protected_versions(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    _versions(fake_wandb, fake_wandb_resources, 6)
    resource = fake_wandb_resources["wandb"]
    run_lifecycle_step(resource, PromoteVersion(asset="model", version="v1", aliases=["best"]))
    dry = run_lifecycle_step(resource, CleanUpVersions(asset="model", keep_last=2))
    assert dry.details["wandb_would_delete_versions"] == ["v0", "v2", "v3"]
    assert len(fake_wandb.versions("model")) == 6
    assert dry.details["wandb_kept_versions"] == {
        "v1": "aliases ['best']",
        "v4": "one of the 2 newest (keep_last)",
        "v5": "aliases ['latest']",
    }
    done = run_lifecycle_step(resource, CleanUpVersions(asset="model", keep_last=2, dry_run=False))
    assert done.metadata["wandb_deleted_versions"].value == ["v0", "v2", "v3"]
    assert done.metadata["dry_run"].value is False
    assert [v.version for v in fake_wandb.versions("model")] == ["v1", "v4", "v5"]


def test_artifact_by_name_and_partition_key_of_the_run(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    from dagster import MultiPartitionKey, MultiPartitionsDefinition

    grid = MultiPartitionsDefinition(
        {"color": StaticPartitionsDefinition(["red"]), "size": StaticPartitionsDefinition(["s"])}
    )

    @asset(partitions_def=grid, metadata=CONFIG, io_manager_key=IO)
    def tiles() -> int:
        return 1

    key = MultiPartitionKey({"color": "red", "size": "s"})
    assert materialize([tiles], resources=fake_wandb_resources, partition_key=key).success
    resource = fake_wandb_resources["wandb"]
    run_lifecycle_step(resource, PromoteVersion(asset="tiles", aliases=["a"]), partition_key=key)
    run_lifecycle_step(resource, PromoteVersion(asset="tiles", partition=str(key), aliases=["b"]))
    run_lifecycle_step(resource, PromoteVersion(artifact="tiles.red.s", aliases=["c"]))
    aliases = fake_wandb.artifact("tiles.red.s:latest").aliases
    assert {"a", "b", "c", "latest"} <= set(aliases)


def test_a_version_aliased_after_the_listing_is_kept(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    from dagster_wandb_v2.lifecycle import apply_lifecycle_step
    from dagster_wandb_v2.testing.fake import FakeArtifactsApi

    _versions(fake_wandb, fake_wandb_resources, 3)

    class AliasedMeanwhile(FakeArtifactsApi):
        """Someone promotes v0 between the cleanup's listing and its deletion of v0."""

        def artifact(self, path: str) -> Any:
            if path.endswith("model:v0"):
                promoted = super().artifact(path)
                promoted.aliases.append("hotfix")
                promoted.save()
            return super().artifact(path)

    report = apply_lifecycle_step(
        AliasedMeanwhile(fake_wandb),
        CleanUpVersions(asset="model", dry_run=False),
        "fake-entity",
        "fake-project",
    )
    assert report.details["wandb_deleted_versions"] == ["v1"]
    assert report.details["wandb_kept_versions"]["v0"] == "aliases ['hotfix'] (since the listing)"
    assert [v.version for v in fake_wandb.versions("model")] == ["v0", "v2"]
