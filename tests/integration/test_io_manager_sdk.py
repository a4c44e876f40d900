"""The IO manager through the real wandb SDK against the local W&B-compatible server."""

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetSpec,
    DagsterInstance,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    execute_job,
    materialize,
    reconstructable,
)

from dagster_wandb_v2 import WandbArtifactNotFoundError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from tests.integration.multiprocess_pipeline import multiprocess_job

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def test_every_write_strategy_and_read_back(local_wandb: LocalWandbProject, tmp_path: Path) -> None:
    (tmp_path / "extra.json").write_text('{"extra": true}')
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.txt").write_text("a")
    (tmp_path / "key.bin").write_bytes(b"referenced, fetched on a whole read")

    @asset(metadata=_config(type="dataset", aliases=["best"]), io_manager_key=IO)
    def pickled() -> dict[str, int]:
        return {"answer": 42}

    @asset(metadata=_config(type="model", serialization_module={"name": "dill"}), io_manager_key=IO)
    def dilled() -> Any:
        return lambda x: x * 3

    @asset(
        metadata=_config(
            type="model", serialization_module={"name": "joblib", "parameters": {"compress": 3}}
        ),
        io_manager_key=IO,
    )
    def joblibbed() -> list[int]:
        return list(range(1000))

    @asset(
        metadata=_config(type="model", serialization_module={"name": "cloudpickle"}),
        io_manager_key=IO,
    )
    def cloudpickled() -> Any:
        offset = 10
        return lambda x: x + offset

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def wandb_table() -> wandb.Table:
        return wandb.Table(columns=["a", "b"], data=[[1, 2], [3, 4]])

    @asset(
        metadata=_config(
            description="with extras",
            add_files=[{"local_path": str(tmp_path / "extra.json"), "name": "extra.json"}],
            add_dirs=[{"local_path": str(tmp_path / "folder"), "name": "folder"}],
            add_references=[{"uri": (tmp_path / "key.bin").as_uri(), "name": "ref"}],
        ),
        io_manager_key=IO,
    )
    def handmade() -> wandb.Artifact:
        artifact = wandb.Artifact("handmade", "dataset")
        with artifact.new_file("notes.txt") as file:
            file.write("hello")
        return artifact

    @asset(
        ins={
            "pickled": AssetIn(input_manager_key=IO, metadata=_config(alias="best")),
            "dilled": AssetIn(input_manager_key=IO),
            "cloudpickled": AssetIn(input_manager_key=IO),
            "joblibbed": AssetIn(input_manager_key=IO, metadata=_config(version="v0")),
            "table": AssetIn(
                key="wandb_table", input_manager_key=IO, metadata=_config(get="Table")
            ),
            "notes": AssetIn(
                key="handmade", input_manager_key=IO, metadata=_config(get_path="notes.txt")
            ),
        }
    )
    def consumer(
        pickled: dict[str, int],
        dilled: Any,
        cloudpickled: Any,
        joblibbed: list[int],
        table: wandb.Table,
        notes: str,
    ) -> dict[str, Any]:
        return {
            "pickled": pickled,
            "dilled": dilled(2),
            "cloudpickled": cloudpickled(1),
            "joblibbed": sum(joblibbed),
            "table": table.get_column("a"),
            "notes": Path(notes).read_text(),
        }

    @asset(ins={"handmade": AssetIn(input_manager_key=IO)})
    def whole(handmade: wandb.Artifact) -> list[str]:
        return sorted(handmade.manifest.entries)

    assets = [pickled, dilled, cloudpickled, joblibbed, wandb_table, handmade, consumer, whole]
    result = materialize(assets, resources=local_wandb.resources())
    assert result.success
    assert result.output_for_node("consumer") == {
        "pickled": {"answer": 42},
        "dilled": 6,
        "cloudpickled": 11,
        "joblibbed": sum(range(1000)),
        "table": [1, 3],
        "notes": "hello",
    }
    assert result.output_for_node("whole") == ["extra.json", "folder/a.txt", "notes.txt", "ref"]
    api = local_wandb.api()
    stored = api.artifact(local_wandb.path("pickled:best"))
    assert stored.version == "v0"
    assert set(stored.aliases) == {"best", "latest", f"dagster-run-{result.run_id[:8]}"}
    assert stored.metadata["source_integration"] == "dagster_wandb_v2"
    assert stored.metadata["source_dagster_run_id"] == result.run_id
    assert (
        api.artifact(local_wandb.path("dilled:latest")).metadata["source_serialization_module"]
        == "dill"
    )
    handmade_artifact = api.artifact(local_wandb.path("handmade:latest"))
    assert handmade_artifact.description == "with extras"
    run = api.run(f"{local_wandb.entity}/{local_wandb.project}/{result.run_id}")
    assert run.state == "finished"
    assert "dagster_wandb" in run.tags
    metadata = next(
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key.path == ["pickled"]
    )
    assert metadata["wandb_artifact_url"].value == (
        f"{local_wandb.base_url}/{local_wandb.entity}/{local_wandb.project}"
        "/artifacts/dataset/pickled/v0"
    )
    assert metadata["wandb_artifact_id"].value == stored.id


def test_versions_dedupe_and_latest_moves(local_wandb: LocalWandbProject) -> None:
    values = iter([[1], [1], [2]])

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def changing() -> list[int]:
        return next(values)

    resources = local_wandb.resources()
    for _ in range(3):
        assert materialize([changing], resources=resources).success
    api = local_wandb.api()
    assert api.artifact(local_wandb.path("changing:latest")).version == "v1"
    assert api.artifact(local_wandb.path("changing:v0")).version == "v0"
    assert not api.artifact_exists(local_wandb.path("changing:v2"))


def test_external_artifact_made_with_plain_wandb(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    run = wandb.init(entity=local_wandb.entity, project=local_wandb.project, reinit="create_new")
    artifact = wandb.Artifact("labels", "dataset")
    with artifact.new_file("output.pickle", "wb") as file:
        pickle.dump(["cat", "dog"], file)
    run.log_artifact(artifact, aliases=["gold"]).wait()
    run.finish()

    labels = AssetSpec("labels").with_io_manager_key(IO)

    @asset(ins={"labels": AssetIn(metadata=_config(alias="gold"))})
    def label_count(labels: list[str]) -> int:
        return len(labels)

    result = materialize([labels, label_count], resources=local_wandb.resources())
    assert result.output_for_node("label_count") == 2
    # Lineage: the Dagster step's W&B run used the artifact.
    used = local_wandb.api().artifact(local_wandb.path("labels:gold")).used_by()
    assert [used_run.id for used_run in used] == [result.run_id]


def test_missing_artifact_is_a_clear_error(local_wandb: LocalWandbProject) -> None:
    missing = AssetSpec("never_logged").with_io_manager_key(IO)

    @asset
    def reader(never_logged: Any) -> Any:
        return never_logged

    with pytest.raises(WandbArtifactNotFoundError) as error:
        materialize([missing, reader], resources=local_wandb.resources())
    assert f"'{local_wandb.entity}/{local_wandb.project}/never_logged:latest' was not found" in str(
        error.value
    )


def test_failed_step_marks_the_wandb_run_failed(local_wandb: LocalWandbProject) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def ok() -> int:
        return 1

    @asset(ins={"ok": AssetIn(input_manager_key=IO)})
    def broken(ok: int) -> int:
        raise RuntimeError(f"boom {ok}")

    result = materialize([ok, broken], resources=local_wandb.resources(), raise_on_error=False)
    assert not result.success
    run = local_wandb.api().run(f"{local_wandb.entity}/{local_wandb.project}/{result.run_id}")
    assert run.state == "failed"


def test_second_reader_hits_the_cache(local_wandb: LocalWandbProject) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def payload() -> bytes:
        return b"x" * 100_000

    @asset(ins={"payload": AssetIn(input_manager_key=IO)})
    def size(payload: bytes) -> int:
        return len(payload)

    resources = local_wandb.resources()
    assert materialize([payload], resources=resources).success
    reader = local_wandb.resources(base_dir=str(local_wandb.storage_dir / "other-machine"))
    for _ in range(2):
        result = materialize([payload, size], resources=reader, selection=[size])
        assert result.output_for_node("size") == 100_000
    blobs = list(
        (
            local_wandb.storage_dir
            / "other-machine"
            / "storage"
            / "wandb_artifacts_manager"
            / "blobs"
        ).iterdir()
    )
    assert len(blobs) == 1  # downloaded once, then served from the cache


def test_multi_partition_round_trip(local_wandb: LocalWandbProject) -> None:
    colors = StaticPartitionsDefinition(["red", "blue"])
    sizes = StaticPartitionsDefinition(["s", "m"])
    multi = MultiPartitionsDefinition({"color": colors, "size": sizes})

    @asset(partitions_def=multi, metadata=_config(type="dataset"), io_manager_key=IO)
    def shirts(context: AssetExecutionContext) -> str:
        return f"shirt {context.partition_key}"

    @asset(ins={"shirts": AssetIn(input_manager_key=IO)})
    def catalog(shirts: dict[str, str]) -> list[Any]:
        return [(str(key), value) for key, value in shirts.items()]

    resources = local_wandb.resources()
    for key in multi.get_partition_keys():
        assert materialize([shirts], resources=resources, partition_key=key).success
    result = materialize([shirts, catalog], resources=resources, selection=[catalog])
    keys = [str(key) for key in multi.get_partition_keys()]
    assert result.output_for_node("catalog") == [(key, f"shirt {key}") for key in keys]
    api = local_wandb.api()
    assert api.artifact(local_wandb.path("shirts.blue.m:latest")).version == "v0"


def test_multiprocess_executor_uses_one_wandb_run_per_step(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MULTIPROCESS_TEST_PROJECT", local_wandb.project)
    monkeypatch.setenv("MULTIPROCESS_TEST_STORAGE", str(tmp_path / "storage"))
    (tmp_path / "instance").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        result = execute_job(reconstructable(multiprocess_job), instance=instance)
        assert result.success
        run_id = result.run_id
    api = local_wandb.api()
    runs = api.runs(f"{local_wandb.entity}/{local_wandb.project}")
    by_name = {run.name: run for run in runs}
    expected = {f"dagster-run-{run_id[:8]}-{step}" for step in ("source", "doubled", "squared")}
    assert set(by_name) == expected
    assert all(run.group == run_id and run.state == "finished" for run in by_name.values())
    assert len({run.id for run in by_name.values()}) == 3
    for name, values in (("doubled", [2, 4, 6]), ("squared", [1, 4, 9])):
        artifact = api.artifact(local_wandb.path(f"{name}:latest"))
        with open(artifact.download(root=str(tmp_path / name)) + "/output.pickle", "rb") as file:
            assert pickle.load(file) == values


def test_link_to_registry_and_ttl(local_wandb: LocalWandbProject) -> None:
    @asset(
        metadata=_config(
            type="model",
            ttl="30d",
            link_to=[{"target_path": "wandb-registry-model/classifier", "aliases": ["production"]}],
        ),
        io_manager_key=IO,
    )
    def classifier() -> dict[str, float]:
        return {"accuracy": 0.93}

    result = materialize([classifier], resources=local_wandb.resources())
    assert result.success
    api = local_wandb.api()
    source = api.artifact(local_wandb.path("classifier:latest"))
    assert source.ttl is not None and source.ttl.days == 30
    linked = api.artifact("wandb-registry-model/classifier:production")
    assert linked.source_name == "classifier:v0"
    metadata = next(
        event.materialization.metadata for event in result.get_asset_materialization_events()
    )
    assert "wandb_registry_url" in metadata


def test_tampered_payload_uploaded_with_plain_wandb_is_refused(
    local_wandb: LocalWandbProject,
) -> None:
    from dagster_wandb_v2 import WandbSerializationError

    key = "integration-signing-key-0123456789"

    @asset(metadata=_config(type="model"), io_manager_key=IO)
    def signed_model() -> dict[str, str]:
        return {"weights": "honest"}

    resources = local_wandb.resources(signing_key=key)
    assert materialize([signed_model], resources=resources).success
    api = local_wandb.api()
    honest = api.artifact(local_wandb.path("signed_model:latest"))

    run = wandb.init(entity=local_wandb.entity, project=local_wandb.project, reinit="create_new")
    tampered = wandb.Artifact("signed_model", "model", metadata=dict(honest.metadata))
    with tampered.new_file("output.pickle", "wb") as file:
        pickle.dump({"weights": "evil"}, file)
    run.log_artifact(tampered).wait()
    run.finish()
    assert api.artifact(local_wandb.path("signed_model:latest")).version == "v1"

    @asset(ins={"signed_model": AssetIn(input_manager_key=IO)})
    def deploy(signed_model: dict[str, str]) -> str:
        return signed_model["weights"]

    reader = local_wandb.resources(
        signing_key=key, base_dir=str(local_wandb.storage_dir / "reader")
    )
    with pytest.raises(WandbSerializationError, match="payload signature mismatch"):
        materialize([signed_model, deploy], resources=reader, selection=[deploy])
    pinned = {"signed_model": AssetIn(input_manager_key=IO, metadata=_config(version="v0"))}

    @asset(ins=pinned)
    def deploy_pinned(signed_model: dict[str, str]) -> str:
        return signed_model["weights"]

    result = materialize([signed_model, deploy_pinned], resources=reader, selection=[deploy_pinned])
    assert result.output_for_node("deploy_pinned") == "honest"


def test_get_of_a_table_leaves_the_working_directory_alone(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WANDB_ARTIFACT_DIR")
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def table() -> wandb.Table:
        return wandb.Table(columns=["a"], data=[[5]])

    @asset(ins={"table": AssetIn(input_manager_key=IO, metadata=_config(get="Table"))})
    def column(table: wandb.Table) -> list[int]:
        return list(table.get_column("a"))

    result = materialize([table, column], resources=local_wandb.resources())
    assert result.output_for_node("column") == [5]
    assert list(workdir.iterdir()) == []
    storage = local_wandb.storage_dir / "storage" / "wandb_artifacts_manager" / "sdk-artifacts"
    assert [path.name for path in storage.iterdir()] == ["table:v0"]
    assert "WANDB_ARTIFACT_DIR" not in os.environ
