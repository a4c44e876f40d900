"""Distributed artifacts (W&B Artifacts guide, "parallel runs"): runs sharing a distributed id
add files to one draft version (``upsert_artifact``), which becomes a version only when
committed; and the IO manager's ``"distributed": True`` on top of it."""

from typing import Any, cast

import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    DagsterInstance,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2._location import Location
from dagster_wandb_v2.distributed import (
    DistributedRun,
    finish_distributed_artifact,
    recorded_draft_id,
)
from tests.behaviour.backends import Backend


def _distributed(run: Any) -> DistributedRun:
    return cast(DistributedRun, run)


def test_upserts_build_one_draft_that_is_no_version_until_committed(backend: Backend) -> None:
    first, second = backend.start_run(), backend.start_run()
    draft_id = _distributed(first).upsert_artifact(
        backend.draft("ds", "A", path="parts/a.txt"), ["latest"], "shared-id"
    )
    again = _distributed(second).upsert_artifact(
        backend.draft("ds", "B", path="parts/b.txt"), ["latest"], "shared-id"
    )
    assert again == draft_id
    assert _distributed(second).draft_entries(draft_id) == ["parts/a.txt", "parts/b.txt"]
    assert backend.aliases("ds") == {}, "a draft is not a version"

    committed = _distributed(second).commit_draft(draft_id)
    assert committed.version == "v0"
    assert _distributed(first).commit_draft(draft_id).version == "v0", (
        "committing twice is harmless"
    )
    assert sorted(backend.lookup("ds:latest").manifest.entries) == ["parts/a.txt", "parts/b.txt"]
    first.finish()
    second.finish()


def test_an_upsert_after_the_commit_starts_the_next_draft(backend: Backend) -> None:
    run = backend.start_run()
    writer = _distributed(run)
    first = writer.upsert_artifact(backend.draft("ds", "A", path="p/a"), ["latest"], "id")
    writer.commit_draft(first)
    second = writer.upsert_artifact(backend.draft("ds", "B", path="p/b"), ["latest"], "id")
    assert second != first
    assert writer.draft_entries(second) == ["p/b"]
    assert sorted(backend.aliases("ds")) == ["v0"]
    run.finish()


def test_a_path_upserted_again_replaces_its_file(backend: Backend) -> None:
    run = backend.start_run()
    writer = _distributed(run)
    draft_id = writer.upsert_artifact(backend.draft("ds", "old", path="p/a"), ["latest"], "x")
    writer.upsert_artifact(backend.draft("ds", "new", path="p/a"), ["latest"], "x")
    stored = writer.commit_draft(draft_id)
    downloaded = stored.get_entry("p/a").download(root=str(backend.tmp_path / "read"))
    with open(downloaded) as file:
        assert file.read() == "new"
    run.finish()


def test_distributed_asset_gathers_partitions_and_tables(backend: Backend) -> None:
    partitions = StaticPartitionsDefinition(["x", "y"])
    config = {"wandb_artifact_configuration": {"type": "dataset", "distributed": True}}

    @asset(partitions_def=partitions, metadata=config, io_manager_key="wandb_artifacts_manager")
    def scores(context: AssetExecutionContext) -> dict[str, wandb.Table]:
        return {key: wandb.Table(columns=["k"], data=[[key]]) for key in context.partition_keys}

    seen: dict[str, Any] = {}

    @asset(ins={"scores": AssetIn(input_manager_key="wandb_artifacts_manager")})
    def merged(scores: dict[str, wandb.Table]) -> None:
        seen.update({key: table.data for key, table in scores.items()})

    resources = backend.resources()
    tags = {
        "dagster/asset_partition_range_start": "x",
        "dagster/asset_partition_range_end": "y",
    }
    assert materialize([scores], resources=resources, tags=tags).success
    assert materialize([scores, merged], selection=[merged], resources=resources).success
    assert seen == {"x": [["x"]], "y": [["y"]]}
    version = backend.lookup("scores:latest")
    assert sorted(version.manifest.entries) == [
        "partitions/x/Table.table.json",
        "partitions/y/Table.table.json",
        "scores.partitioned-table.json",
    ]
    rows = sorted(row for _, row in cast(Any, version).get("scores").iterrows())
    assert rows == [["x"], ["y"]]


def test_returned_artifacts_keep_their_files_under_the_partition_folder(backend: Backend) -> None:
    partitions = StaticPartitionsDefinition(["x", "y"])
    config = {"wandb_artifact_configuration": {"distributed": True}}

    @asset(partitions_def=partitions, metadata=config, io_manager_key="wandb_artifacts_manager")
    def bundles(context: AssetExecutionContext) -> wandb.Artifact:
        artifact = wandb.Artifact("bundles", "dataset")
        with artifact.new_file("data/rows.csv") as file:
            file.write(f"key\n{context.partition_key}\n")
        return artifact

    seen: dict[str, str] = {}
    read_config = {
        "wandb_artifact_configuration": {"partitions": {"*": {"get_path": "data/rows.csv"}}}
    }

    @asset(
        ins={"bundles": AssetIn(input_manager_key="wandb_artifacts_manager", metadata=read_config)}
    )
    def rows(bundles: dict[str, str]) -> None:
        for key, path in bundles.items():
            with open(path) as file:
                seen[key] = file.read()

    resources = backend.resources()
    with DagsterInstance.ephemeral() as instance:
        for key in ("x", "y"):  # one run per partition, sharing one distributed id
            tags = {"dagster_wandb/distributed_id": "bundles-1"}
            assert materialize(
                [bundles], partition_key=key, resources=resources, tags=tags, instance=instance
            ).success
        assert backend.aliases("bundles") == {}, "sharing a distributed id tag: no version yet"
        run = backend.start_run()
        draft_id = recorded_draft_id(instance, AssetKey("bundles"), "bundles-1", run.project)
        assert draft_id is not None
        assert recorded_draft_id(instance, AssetKey("bundles"), "bundles-2", run.project) is None
    finish_distributed_artifact(
        run, "bundles", draft_id, "bundles-1", Location("op", "f", "output", "result")
    )
    run.finish()
    assert materialize([bundles, rows], selection=[rows], resources=resources).success
    assert seen == {"x": "key\nx\n", "y": "key\ny\n"}
    assert sorted(backend.lookup("bundles:latest").manifest.entries) == [
        "partitions/x/data/rows.csv",
        "partitions/y/data/rows.csv",
    ]
