"""Writing outputs as W&B artifacts, through the in-memory fake."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dill
import joblib
import pytest
import wandb
from dagster import (
    AssetKey,
    AssetOut,
    DagsterInstance,
    Out,
    asset,
    job,
    materialize,
    multi_asset,
    op,
)

from dagster_wandb_v2 import WandbArtifactsIOManagerError, WandbConfigurationError
from dagster_wandb_v2.testing import FakeWandb

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _materialization_metadata(result: Any, key: str) -> dict[str, Any]:
    events = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == AssetKey(key)
    ]
    assert len(events) == 1
    return dict(events[0].materialization.metadata)


@pytest.mark.parametrize(
    ("module", "file_name", "loader"),
    [
        ("pickle", "output.pickle", pickle.load),
        ("dill", "output.dill", dill.load),
        ("cloudpickle", "output.cloudpickle", pickle.load),
        ("joblib", "output.joblib", joblib.load),
    ],
)
def test_python_object_is_serialized_with_the_configured_module(
    fake_wandb: FakeWandb,
    fake_wandb_resources: dict[str, Any],
    module: str,
    file_name: str,
    loader: Any,
) -> None:
    @asset(
        metadata=_config(type="dataset", serialization_module={"name": module}),
        io_manager_key=IO,
    )
    def numbers() -> dict[str, list[int]]:
        return {"values": [1, 2, 3]}

    assert materialize([numbers], resources=fake_wandb_resources).success
    artifact = fake_wandb.artifact("numbers:latest")
    assert list(artifact.manifest.entries) == [file_name]
    with artifact.manifest.entries[file_name].stored_file.open("rb") as file:  # type: ignore[union-attr]
        assert loader(file) == {"values": [1, 2, 3]}
    assert artifact.metadata["source_serialization_module"] == module
    assert artifact.metadata["source_pickle_protocol_used"] == pickle.HIGHEST_PROTOCOL
    if module != "pickle":
        assert artifact.metadata[f"source_{module}_version_used"]


def test_serialization_parameters_reach_dump(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(
        metadata=_config(
            type="model",
            serialization_module={"name": "joblib", "parameters": {"compress": 3, "protocol": 4}},
        ),
        io_manager_key=IO,
    )
    def model() -> list[int]:
        return [0] * 100_000

    assert materialize([model], resources=fake_wandb_resources).success
    artifact = fake_wandb.artifact("model:latest")
    assert artifact.metadata["source_pickle_protocol_used"] == 4
    # compressed: far smaller than the ~200 kB of an uncompressed pickle of that list
    assert artifact.size < 10_000


def test_unserializable_object_error_names_type_and_suggests_modules(
    fake_wandb_resources: dict[str, Any],
) -> None:
    @asset(metadata=_config(type="model"), io_manager_key=IO)
    def adder() -> Any:
        return lambda x: x + 1

    with pytest.raises(WandbArtifactsIOManagerError) as error:
        materialize([adder], resources=fake_wandb_resources)
    message = str(error.value)
    assert message.startswith("asset 'adder', output 'result': ")
    assert "object of type 'function'" in message
    assert "with 'pickle'" in message
    assert "dill" in message and "cloudpickle" in message


def test_wandb_object_is_stored_under_its_class_name(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def table() -> wandb.Table:
        return wandb.Table(columns=["a", "b"], data=[[1, 2], [3, 4]])

    assert materialize([table], resources=fake_wandb_resources).success
    artifact = fake_wandb.artifact("table:latest")
    assert list(artifact.manifest.entries) == ["Table.table.json"]
    assert artifact.get("Table").get_column("a") == [1, 3]
    assert "source_serialization_module" not in artifact.metadata


def _user_messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_user_artifact_is_renamed_after_the_asset_and_enriched(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(metadata=_config(description="My *markdown*"), io_manager_key=IO)
    def my_artifact() -> wandb.Artifact:
        artifact = wandb.Artifact("some_other_name", "dataset", metadata={"mine": 1})
        artifact.add(wandb.Table(columns=["a"], data=[[1]]), "my_table")
        return artifact

    instance = DagsterInstance.ephemeral()
    result = materialize([my_artifact], resources=fake_wandb_resources, instance=instance)
    assert result.success
    stored = fake_wandb.artifact("my_artifact:latest")
    assert stored.type == "dataset"
    assert stored.description == "My *markdown*"
    assert stored.metadata["mine"] == 1
    assert stored.metadata["source_integration"] == "dagster_wandb_v2"
    assert stored.get("my_table").get_column("a") == [1]
    assert fake_wandb.collections() == ["my_artifact"]
    assert any(
        "named 'some_other_name' but is logged as 'my_artifact'" in message
        for message in _user_messages(instance, result.run_id)
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"type": "model"}, "wandb_artifact_configuration.type: not allowed when the output"),
        ({"description": "other"}, "already has a description"),
    ],
)
def test_user_artifact_conflicts_with_config_are_errors(
    fake_wandb_resources: dict[str, Any], config: dict[str, Any], expected: str
) -> None:
    @asset(metadata=_config(**config), io_manager_key=IO)
    def conflicting() -> wandb.Artifact:
        return wandb.Artifact("conflicting", "dataset", description="mine")

    with pytest.raises(WandbConfigurationError) as error:
        materialize([conflicting], resources=fake_wandb_resources)
    assert str(error.value).startswith("asset 'conflicting', output 'result': ")
    assert expected in str(error.value)


def test_type_is_required_for_python_objects(fake_wandb_resources: dict[str, Any]) -> None:
    @asset(io_manager_key=IO)
    def untyped() -> list[int]:
        return [1]

    with pytest.raises(
        WandbConfigurationError,
        match=r"asset 'untyped', output 'result': "
        r"wandb_artifact_configuration\.type: required",
    ):
        materialize([untyped], resources=fake_wandb_resources)


def test_none_output_writes_nothing_and_warns(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def nothing() -> Any:
        return None

    instance = DagsterInstance.ephemeral()
    result = materialize([nothing], resources=fake_wandb_resources, instance=instance)
    assert result.success
    assert fake_wandb.collections() == []
    assert fake_wandb.runs == []  # no W&B run opened for nothing
    assert any(
        "asset 'nothing', output 'result': the output is None" in message
        for message in _user_messages(instance, result.run_id)
    )


def test_aliases_get_latest_and_dagster_run_alias(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(metadata=_config(type="dataset", aliases=["best", "prod"]), io_manager_key=IO)
    def aliased() -> int:
        return 1

    result = materialize([aliased], resources=fake_wandb_resources)
    assert sorted(fake_wandb.artifact("aliased:best").aliases) == sorted(
        ["best", "prod", "latest", f"dagster-run-{result.run_id[:8]}"]
    )


def test_same_content_dedupes_and_new_content_moves_latest(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    values = iter([[1], [1], [2]])

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def changing() -> list[int]:
        return next(values)

    for _ in range(3):
        assert materialize([changing], resources=fake_wandb_resources).success
    versions = fake_wandb.versions("changing")
    assert [version.version for version in versions] == ["v0", "v1"]
    assert fake_wandb.artifact("changing:latest").version == "v1"
    assert "latest" not in versions[0].aliases


def test_add_files_dirs_and_references(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "data.json").write_text('{"a": 1}')
    (tmp_path / "directory").mkdir()
    (tmp_path / "directory" / "inner.txt").write_text("inner")

    @asset(
        metadata=_config(
            type="dataset",
            add_files=[{"local_path": str(tmp_path / "data.json"), "name": "validation.json"}],
            add_dirs=[{"local_path": str(tmp_path / "directory"), "name": "my_dir"}],
            add_references=[
                {"uri": "https://example.com/image.png", "name": "image", "checksum": False}
            ],
        ),
        io_manager_key=IO,
    )
    def advanced() -> list[int]:
        return [1, 2, 3]

    assert materialize([advanced], resources=fake_wandb_resources).success
    entries = fake_wandb.artifact("advanced:latest").manifest.entries
    assert set(entries) == {"output.pickle", "validation.json", "my_dir/inner.txt", "image"}
    assert entries["image"].ref == "https://example.com/image.png"


def test_bad_add_file_path_is_a_clear_error(fake_wandb_resources: dict[str, Any]) -> None:
    @asset(
        metadata=_config(type="dataset", add_files=[{"local_path": "/does/not/exist.json"}]),
        io_manager_key=IO,
    )
    def missing_file() -> int:
        return 1

    with pytest.raises(WandbConfigurationError) as error:
        materialize([missing_file], resources=fake_wandb_resources)
    assert (
        "asset 'missing_file', output 'result': wandb_artifact_configuration.add_files.0:"
        in str(error.value)
    )


def test_multi_asset_outputs_each_become_an_artifact(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @multi_asset(
        outs={
            "first_table": AssetOut(metadata=_config(type="training_dataset"), io_manager_key=IO),
            "second_table": AssetOut(
                metadata=_config(type="validation_dataset"), io_manager_key=IO
            ),
        }
    )
    def create_datasets() -> tuple[wandb.Table, wandb.Table]:
        return (
            wandb.Table(columns=["a"], data=[[1]]),
            wandb.Table(columns=["d", "e"], data=[[4, 5]]),
        )

    assert materialize([create_datasets], resources=fake_wandb_resources).success
    assert fake_wandb.artifact("first_table:latest").type == "training_dataset"
    assert fake_wandb.artifact("second_table:latest").get("Table").columns == ["d", "e"]
    assert len(fake_wandb.runs) == 1


def test_op_output_uses_configured_name(fake_wandb: FakeWandb) -> None:
    @op(out=Out(metadata=_config(name="my_op_artifact", type="dataset"), io_manager_key=IO))
    def create() -> list[int]:
        return [1, 2, 3]

    @job(resource_defs=fake_wandb.resources())
    def my_job() -> None:
        create()

    assert my_job.execute_in_process().success
    assert fake_wandb.artifact("my_op_artifact:latest").type == "dataset"


def test_op_output_without_name_is_an_error(fake_wandb: FakeWandb) -> None:
    @op(out=Out(metadata=_config(type="dataset"), io_manager_key=IO))
    def nameless() -> list[int]:
        return [1]

    @job(resource_defs=fake_wandb.resources())
    def nameless_job() -> None:
        nameless()

    with pytest.raises(WandbConfigurationError) as error:
        nameless_job.execute_in_process()
    assert str(error.value) == (
        "op 'nameless', output 'result': wandb_artifact_configuration.name: required for an "
        "output that is not an asset (there is no asset key to name the artifact after)"
    )


def test_name_on_asset_output_is_an_error(fake_wandb_resources: dict[str, Any]) -> None:
    @asset(metadata=_config(name="other", type="dataset"), io_manager_key=IO)
    def named() -> int:
        return 1

    with pytest.raises(
        WandbConfigurationError,
        match=r"asset 'named', output 'result': wandb_artifact_configuration\.name: not allowed",
    ):
        materialize([named], resources=fake_wandb_resources)


def test_metadata_on_both_sides(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    resources = fake_wandb.resources(project="my_project", base_dir=str(tmp_path))

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def described() -> int:
        return 1

    result = materialize([described], resources=resources)
    stored = fake_wandb.artifact("fake-entity/my_project/described:latest")
    run = fake_wandb.runs[0]
    metadata = _materialization_metadata(result, "described")
    assert metadata["dagster_run_id"].value == result.run_id
    assert type(metadata["dagster_run_id"]).__name__ == "DagsterRunMetadataValue"
    assert metadata["wandb_artifact_id"].value == stored.id
    assert metadata["wandb_artifact_type"].value == "dataset"
    assert metadata["wandb_artifact_version"].value == "v0"
    assert metadata["wandb_artifact_size"].value == stored.size
    assert metadata["wandb_artifact_url"].value == (
        "https://fake.wandb.test/fake-entity/my_project/artifacts/dataset/described/v0"
    )
    assert type(metadata["wandb_artifact_url"]).__name__ == "UrlMetadataValue"
    assert metadata["wandb_entity"].value == "fake-entity"
    assert metadata["wandb_project"].value == "my_project"
    assert metadata["wandb_run_id"].value == result.run_id
    assert metadata["wandb_run_name"].value == f"dagster-run-{result.run_id[:8]}"
    assert metadata["wandb_run_path"].value == f"fake-entity/my_project/{result.run_id}"
    assert metadata["wandb_run_url"].value == run.url
    assert stored.metadata["source_dagster_run_id"] == result.run_id
    assert stored.metadata["source_created_at"].endswith("+00:00")
    assert set(stored.metadata) >= {
        "source_integration",
        "source_integration_version",
        "source_python_version",
    }


def test_op_returning_an_artifact_needs_no_name(fake_wandb: FakeWandb) -> None:
    @op(out=Out(io_manager_key=IO))
    def build() -> wandb.Artifact:
        artifact = wandb.Artifact("self_named", "dataset")
        artifact.add(wandb.Table(columns=["a"], data=[[1]]), "table")
        return artifact

    @job(resource_defs=fake_wandb.resources())
    def build_job() -> None:
        build()

    from dagster import Definitions

    from dagster_wandb_v2 import validate_definitions

    validate_definitions(Definitions(jobs=[build_job], resources=fake_wandb.resources()))
    assert build_job.execute_in_process().success
    assert fake_wandb.artifact("self_named:latest").get("table").get_column("a") == [1]
