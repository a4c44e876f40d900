"""Distributed artifacts (``"distributed": True``) through the real wandb SDK against the
local server: every partition in one version, committed when the run's or the backfill's
partitions are all in it, read back with one manifest."""

import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    job,
    materialize,
    mem_io_manager,
)
from dagster._core.execution.backfill import PartitionBackfill

from dagster_wandb_v2 import (
    WandbConfigurationError,
    finish_distributed_artifact_op,
    validate_definitions,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer
from tests.integration import distributed_pipeline

IO = "wandb_artifacts_manager"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _range(first: str, last: str) -> dict[str, str]:
    """Tags of a single-run backfill over ``first..last``."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def _add_backfill(
    instance: DagsterInstance, asset_graph: Any, keys: list[str], asset: str, backfill_id: str
) -> None:
    """Register a multi-run backfill of ``keys`` of ``asset``, as the Dagster UI does."""
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=asset_graph,
            partition_names=keys,
            asset_selection=[AssetKey(asset)],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
    )


def _versions(local_wandb: LocalWandbProject, name: str) -> list[str]:
    api = local_wandb.api()
    if not api.artifact_collection_exists(local_wandb.path(name), "dataset"):
        return []
    return [v.version for v in api.artifacts("dataset", local_wandb.path(name))]


def test_single_run_backfill_writes_one_version_read_whole_and_by_partition(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer
) -> None:
    partitions = StaticPartitionsDefinition(["a", "b", "c"])
    distributed = _config(type="dataset", distributed=True, aliases=["gathered"])

    @asset(partitions_def=partitions, metadata=distributed, io_manager_key=IO)
    def shards(context: AssetExecutionContext) -> dict[str, list[str]]:
        return {key: [key] * 2 for key in context.partition_keys}

    @asset(partitions_def=partitions, metadata=distributed, io_manager_key=IO)
    def tables(context: AssetExecutionContext) -> dict[str, wandb.Table]:
        return {key: wandb.Table(columns=["key"], data=[[key]]) for key in context.partition_keys}

    seen: dict[str, Any] = {}

    @asset(io_manager_key="memory", ins={"shards": AssetIn(input_manager_key=IO)})
    def gathered(shards: dict[str, list[str]]) -> int:
        seen["gathered"] = shards
        return len(shards)

    @asset(
        io_manager_key="memory",
        ins={"tables": AssetIn(input_manager_key=IO, metadata=_config(get="tables"))},
    )
    def rows(tables: Any) -> int:
        seen["rows"] = sorted(row for _, row in tables.iterrows())
        return 0

    @asset(
        partitions_def=partitions,
        io_manager_key="memory",
        ins={"shards": AssetIn(input_manager_key=IO)},
    )
    def one(context: AssetExecutionContext, shards: list[str]) -> int:
        seen[f"one.{context.partition_key}"] = shards
        return 0

    resources = {**local_wandb.resources(), "memory": mem_io_manager}
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [shards, tables], resources=resources, instance=instance, tags=_range("a", "c")
        )
        assert result.success
        metadata = result.asset_materializations_for_node("shards")[0].metadata
        assert metadata["wandb_artifact_version"].value == "v0"
        assert metadata["wandb_partitions_missing"].value == 0
        before = local_wandb_server.request_count
        assert materialize(
            [shards, gathered], selection=[gathered], resources=resources, instance=instance
        ).success
        fan_in = local_wandb_server.requests_since(before)
        assert materialize(
            [shards, tables, gathered, rows],
            selection=[rows],
            resources=resources,
            instance=instance,
        ).success
        assert materialize(
            [shards, one],
            selection=[one],
            partition_key="b",
            resources=resources,
            instance=instance,
        ).success

    api = local_wandb.api()
    version = api.artifact(local_wandb.path("shards:latest"))
    assert version.version == "v0" and "gathered" in version.aliases
    assert sorted(version.manifest.entries) == [
        f"partitions/{key}/output.pickle" for key in ("a", "b", "c")
    ]
    assert _versions(local_wandb, "shards") == ["v0"]
    assert not api.artifact_collection_exists(local_wandb.path("shards.a"), "dataset")
    assert seen["gathered"] == {"a": ["a", "a"], "b": ["b", "b"], "c": ["c", "c"]}
    operations = [request.operation for request in fan_in if request.operation]
    assert operations.count("FetchArtifactManifest") == 1, "one manifest for every partition"
    assert operations.count("ArtifactMembershipByName") == 1, "one version looked up"
    assert seen["rows"] == [["a"], ["b"], ["c"]]
    assert seen["one.b"] == ["b", "b"]
    table_version = api.artifact(local_wandb.path("tables:latest"))
    assert "tables.partitioned-table.json" in table_version.manifest.entries


def test_time_window_dynamic_and_multi_dimensional_partitions(
    local_wandb: LocalWandbProject,
) -> None:
    distributed = _config(type="dataset", distributed=True)
    daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")
    dynamic = DynamicPartitionsDefinition(name="cities")
    multi = MultiPartitionsDefinition(
        {
            "color": StaticPartitionsDefinition(["red", "blue"]),
            "size": StaticPartitionsDefinition(["s", "l"]),
        }
    )

    @asset(partitions_def=daily, metadata=distributed, io_manager_key=IO)
    def days(context: AssetExecutionContext) -> dict[str, str]:
        return {key: key for key in context.partition_keys}

    @asset(partitions_def=dynamic, metadata=distributed, io_manager_key=IO)
    def cities(context: AssetExecutionContext) -> dict[str, str]:
        return {key: key.upper() for key in context.partition_keys}

    @asset(partitions_def=multi, metadata=distributed, io_manager_key=IO)
    def grid(context: AssetExecutionContext) -> str:
        return str(context.partition_key)

    seen: dict[str, Any] = {}

    @asset(
        io_manager_key="memory",
        ins={name: AssetIn(input_manager_key=IO) for name in ("days", "cities", "grid")},
    )
    def everything(days: dict[str, str], cities: dict[str, str], grid: dict[str, str]) -> int:
        seen.update(days=days, cities=cities, grid=grid)
        return 0

    defs = Definitions(
        assets=[days, cities, grid, everything],
        resources={**local_wandb.resources(), "memory": mem_io_manager},
    )
    resources = {**local_wandb.resources(), "memory": mem_io_manager}
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("cities", ["paris", "oslo"])
        assert materialize(
            [days], resources=resources, instance=instance, tags=_range("2024-01-01", "2024-01-03")
        ).success
        assert materialize(
            [cities], resources=resources, instance=instance, tags=_range("paris", "oslo")
        ).success
        # A multi-run backfill of the grid: one run per partition.
        keys = multi.get_partition_keys()
        backfill_id = "grid-backfill"
        _add_backfill(
            instance, defs.get_repository_def().asset_graph, list(keys), "grid", backfill_id
        )
        for index, key in enumerate(keys):
            assert materialize(
                [grid],
                partition_key=key,
                resources=resources,
                instance=instance,
                tags={"dagster/backfill": backfill_id},
            ).success
            if index < len(keys) - 1:
                assert _versions(local_wandb, "grid") == [], "no version before the last partition"
        assert materialize(
            [days, cities, grid, everything],
            selection=[everything],
            resources=resources,
            instance=instance,
        ).success

    assert seen["days"] == {d: d for d in ("2024-01-01", "2024-01-02", "2024-01-03")}
    assert seen["cities"] == {"paris": "PARIS", "oslo": "OSLO"}
    assert seen["grid"] == {str(key): str(key) for key in keys}
    assert all(isinstance(key, MultiPartitionKey) for key in seen["grid"])
    grid_version = local_wandb.api().artifact(local_wandb.path("grid:latest"))
    assert "partitions/blue/l/output.pickle" in grid_version.manifest.entries
    assert _versions(local_wandb, "grid") == ["v0"]


def _write_partitions(
    local_wandb: LocalWandbProject,
    instance_dir: Path,
    storage: Path,
    keys: list[str],
    attempt: str,
    backfill_id: str,
) -> None:
    """One run per key, all at once, each in its own process (multiprocess executor)."""
    script = textwrap.dedent(
        """
        import sys
        from dagster import DagsterInstance, execute_job, reconstructable
        from tests.integration.distributed_pipeline import shards_job

        instance_dir, backfill_id, key = sys.argv[1:]
        with DagsterInstance.local_temp(instance_dir) as instance:
            result = execute_job(
                reconstructable(shards_job),
                instance=instance,
                tags={"dagster/backfill": backfill_id, "dagster/partition": key},
            )
        sys.exit(0 if result.success else 1)
        """
    )
    env = {
        **os.environ,
        "DISTRIBUTED_TEST_PROJECT": local_wandb.project,
        "DISTRIBUTED_TEST_STORAGE": str(storage),
        "DISTRIBUTED_TEST_ATTEMPT": attempt,
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(instance_dir), backfill_id, key],
            env=env,
            cwd=REPO_ROOT,
        )
        for key in keys
    ]
    assert [writer.wait(timeout=600) for writer in writers] == [0] * len(keys)


def test_multi_run_backfill_in_parallel_processes_lands_every_partition(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs of one backfill write at the same time; the version appears only complete, a
    retried partition replaces its own folder, and exactly one version is committed."""
    monkeypatch.setenv("DISTRIBUTED_TEST_PROJECT", local_wandb.project)
    monkeypatch.setenv("DISTRIBUTED_TEST_STORAGE", str(tmp_path / "storage"))
    instance_dir = tmp_path / "instance"
    instance_dir.mkdir()
    backfill_id = "parallel-backfill"
    with DagsterInstance.local_temp(str(instance_dir)) as instance:
        defs = distributed_pipeline.definitions()
        _add_backfill(
            instance,
            defs.get_repository_def().asset_graph,
            ["a", "b", "c", "d"],
            "shards",
            backfill_id,
        )
    storage = tmp_path / "storage"
    _write_partitions(local_wandb, instance_dir, storage, ["a", "b", "c"], "1", backfill_id)
    assert _versions(local_wandb, "shards") == [], "three of four partitions: not a version yet"
    _write_partitions(local_wandb, instance_dir, storage, ["a"], "2", backfill_id)  # a retry
    assert _versions(local_wandb, "shards") == []
    _write_partitions(local_wandb, instance_dir, storage, ["d"], "1", backfill_id)

    assert _versions(local_wandb, "shards") == ["v0"]
    version = local_wandb.api().artifact(local_wandb.path("shards:latest"))
    root = Path(version.download(root=str(tmp_path / "download")))
    values = {
        key: pickle.loads((root / "partitions" / key / "output.pickle").read_bytes())
        for key in "abcd"
    }
    assert values == {
        "a": {"key": "a", "attempt": "2"},
        "b": {"key": "b", "attempt": "1"},
        "c": {"key": "c", "attempt": "1"},
        "d": {"key": "d", "attempt": "1"},
    }


def test_parallel_writers_finishing_together_commit_one_complete_version(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All four partitions at once: whichever writers find the draft complete commit it,
    and the result is one version holding all four."""
    monkeypatch.setenv("DISTRIBUTED_TEST_PROJECT", local_wandb.project)
    monkeypatch.setenv("DISTRIBUTED_TEST_STORAGE", str(tmp_path / "storage"))
    instance_dir = tmp_path / "instance"
    instance_dir.mkdir()
    backfill_id = "all-at-once"
    with DagsterInstance.local_temp(str(instance_dir)) as instance:
        _add_backfill(
            instance,
            distributed_pipeline.definitions().get_repository_def().asset_graph,
            ["a", "b", "c", "d"],
            "shards",
            backfill_id,
        )
    _write_partitions(
        local_wandb, instance_dir, tmp_path / "storage", list("abcd"), "1", backfill_id
    )
    assert _versions(local_wandb, "shards") == ["v0"]
    version = local_wandb.api().artifact(local_wandb.path("shards:latest"))
    assert sorted(version.manifest.entries) == [f"partitions/{k}/output.pickle" for k in "abcd"]


def test_bad_distributed_configuration_is_refused_before_anything_is_written(
    local_wandb: LocalWandbProject,
) -> None:
    @asset(metadata=_config(type="dataset", distributed=True), io_manager_key=IO)
    def unpartitioned() -> int:
        return 1

    @asset(
        partitions_def=StaticPartitionsDefinition(["a"]),
        metadata=_config(
            type="dataset",
            distributed=True,
            add_files=[{"local_path": __file__, "name": "extra.py"}],
        ),
        io_manager_key=IO,
    )
    def with_extras() -> int:
        return 1

    with pytest.raises(WandbConfigurationError) as error:
        validate_definitions(
            Definitions(assets=[unpartitioned, with_extras], resources=local_wandb.resources())
        )
    message = str(error.value)
    assert (
        "asset 'unpartitioned'" in message and "wandb_artifact_configuration.distributed" in message
    )
    assert "asset 'with_extras'" in message and "wandb_artifact_configuration.add_files" in message

    result = materialize([unpartitioned], resources=local_wandb.resources(), raise_on_error=False)
    assert not result.success
    assert _versions(local_wandb, "unpartitioned") == []
    projects = {project.name for project in local_wandb.api().projects(local_wandb.entity)}
    assert local_wandb.project not in projects, "no W&B run was opened"


def test_runs_sharing_a_distributed_id_tag_are_finished_explicitly(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer
) -> None:
    """Daily partitions written by separate runs (a schedule's) gather in one draft until
    the finish op commits it; finishing a draft nobody wrote to is refused."""
    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    distributed = _config(type="dataset", distributed=True)

    @asset(partitions_def=daily, metadata=distributed, io_manager_key=IO)
    def readings(context: AssetExecutionContext) -> int:
        return int(context.partition_key[-2:])

    seen: dict[str, Any] = {}

    @asset(
        partitions_def=daily,
        io_manager_key="memory",
        ins={"readings": AssetIn(input_manager_key=IO)},
    )
    def checked(context: AssetExecutionContext, readings: int) -> int:
        seen[context.partition_key] = readings
        return readings

    finish = finish_distributed_artifact_op("readings", type="dataset")

    @job(name="finish_readings")
    def finish_readings() -> None:
        finish()

    finish_job = Definitions(
        jobs=[finish_readings], resources=local_wandb.resources()
    ).resolve_job_def("finish_readings")
    tags = {"dagster_wandb/distributed_id": "january"}
    resources = {**local_wandb.resources(), "memory": mem_io_manager}
    with DagsterInstance.ephemeral() as instance:
        for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
            result = materialize(
                [readings], partition_key=day, resources=resources, instance=instance, tags=tags
            )
            assert result.success
            metadata = result.asset_materializations_for_node("readings")[0].metadata
            assert metadata["wandb_distributed_id"].value == "january"
            assert "wandb_artifact_version" not in metadata
        assert _versions(local_wandb, "readings") == []

        def run_finish(distributed_id: str) -> Any:
            config = {"distributed_id": distributed_id}
            return finish_job.execute_in_process(
                run_config={"ops": {"finish_readings": {"config": config}}},
                instance=instance,
                raise_on_error=False,
            )

        refused = run_finish("february")
        assert not refused.success
        february = local_wandb_server.storage.one(
            "SELECT COUNT(*) AS n FROM artifacts WHERE distributed_id='february'"
        )
        assert february is not None and february["n"] == 0, "no draft was created"
        failure = str(refused.all_events)
        assert "op 'finish_readings', output 'result': asset 'readings' has no draft" in failure
        assert "distributed id 'february'" in failure
        finished = run_finish("january")
        assert finished.success
        observation = next(
            event.asset_observation_data.asset_observation
            for event in finished.all_events
            if event.event_type_value == "ASSET_OBSERVATION"
        )
        assert observation.asset_key == AssetKey("readings")
        assert observation.metadata["wandb_artifact_version"].value == "v0"
        assert materialize(
            [readings, checked],
            selection=[checked],
            partition_key="2024-01-02",
            resources=resources,
            instance=instance,
        ).success

    assert _versions(local_wandb, "readings") == ["v0"]
    version = local_wandb.api().artifact(local_wandb.path("readings:latest"))
    assert sorted(version.manifest.entries) == [
        f"partitions/2024-01-0{day}/output.pickle" for day in (1, 2, 3)
    ]
    assert seen == {"2024-01-02": 2}


@pytest.mark.parametrize("retried_value", ["same", "changed"])
def test_a_partition_retried_while_the_draft_is_committed_loses_nothing(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    retried_value: str,
) -> None:
    """A retry of partition 'a' joins the draft just before the last writer commits it,
    so W&B refuses its manifest. Same content: recognised as already in the version.
    Changed content: it goes to the next draft. Either way one complete version is
    ``latest`` and the step succeeds."""
    partitions = StaticPartitionsDefinition(["a", "b"])
    attempt = {"a": "1"}

    @asset(
        partitions_def=partitions,
        metadata=_config(type="dataset", distributed=True),
        io_manager_key=IO,
    )
    def shards(context: AssetExecutionContext) -> dict[str, str]:
        return {"key": context.partition_key, "attempt": attempt.get(context.partition_key, "1")}

    resources = local_wandb.resources()
    backfill_id = f"race-{retried_value}"
    storage = local_wandb_server.storage
    with DagsterInstance.ephemeral() as instance:
        defs = Definitions(assets=[shards], resources=resources)
        _add_backfill(
            instance, defs.get_repository_def().asset_graph, ["a", "b"], "shards", backfill_id
        )

        def write(key: str, tags: dict[str, str]) -> Any:
            return materialize(
                [shards], partition_key=key, resources=resources, instance=instance, tags=tags
            )

        assert write("a", {"dagster/backfill": backfill_id}).success
        # 'b' joins the draft without committing it (its writer did not see it complete yet)
        assert write("b", {"dagster_wandb/distributed_id": backfill_id}).success
        assert _versions(local_wandb, "shards") == []

        committed_first = storage.manifest_uploaded

        def last_writer_commits_first(manifest_id: int, md5_hex: str) -> None:
            manifest = storage.manifest(manifest_id)
            assert manifest is not None
            storage.commit_artifact(manifest["artifact_id"])
            monkeypatch.setattr(storage, "manifest_uploaded", committed_first)
            committed_first(manifest_id, md5_hex)

        monkeypatch.setattr(storage, "manifest_uploaded", last_writer_commits_first)
        attempt["a"] = "1" if retried_value == "same" else "2"
        retried = write("a", {"dagster/backfill": backfill_id})

    assert retried.success
    assert storage.manifest_uploaded == committed_first, "the race happened"
    assert _versions(local_wandb, "shards") == ["v0"]
    version = local_wandb.api().artifact(local_wandb.path("shards:latest"))
    assert sorted(version.manifest.entries) == [f"partitions/{k}/output.pickle" for k in "ab"]
    assert version.metadata["source_distributed_id"] == backfill_id
    metadata = retried.asset_materializations_for_node("shards")[0].metadata
    drafts = storage.one(
        "SELECT COUNT(*) AS n FROM artifacts WHERE state='PENDING' AND distributed_id=?",
        (backfill_id,),
    )
    assert drafts is not None
    if retried_value == "same":
        assert metadata["wandb_artifact_version"].value == "v0"
        assert drafts["n"] == 0, "nothing new drafted"
    else:
        assert "wandb_artifact_version" not in metadata
        assert metadata["wandb_partitions_missing"].value == 1  # 'b', in the next draft
        assert drafts["n"] == 1, "the new value waits in the next draft"
