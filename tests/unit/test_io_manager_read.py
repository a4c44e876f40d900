"""Reading inputs from W&B artifacts, through the in-memory fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import AssetIn, AssetKey, AssetSpec, In, SourceAsset, asset, job, materialize, op

from dagster_wandb_v2 import (
    WandbArtifactNotFoundError,
    WandbArtifactsIOManagerError,
    WandbConfigurationError,
)
from dagster_wandb_v2.client import StoredFile
from dagster_wandb_v2.serialization import SerializationModule
from dagster_wandb_v2.testing import FakeArtifact, FakeWandb

IO = "wandb_artifacts_manager"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _external_artifact(fake: FakeWandb, name: str, tmp_path: Path, **files: str) -> FakeArtifact:
    """An artifact made outside Dagster, with plain wandb code."""
    artifact = wandb.Artifact(name, "dataset")
    for file_name, content in files.items():
        path = tmp_path / file_name
        path.write_text(content)
        artifact.add_file(str(path))
    artifact.add(wandb.Table(columns=["a"], data=[[7]]), "my_table")
    return fake.store(artifact, project="fake-project")


@asset(metadata=_config(type="dataset"), io_manager_key=IO)
def numbers() -> list[int]:
    return [1, 2, 3]


def test_whole_artifact_with_a_serialized_object_returns_the_object(
    fake_wandb_resources: dict[str, Any],
) -> None:
    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    result = materialize([numbers, total], resources=fake_wandb_resources)
    assert result.output_for_node("total") == 6


def test_reader_on_another_machine_downloads_then_hits_the_cache(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    assert materialize([numbers], resources=fake_wandb.resources(base_dir=str(tmp_path / "a")))

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    reader = fake_wandb.resources(base_dir=str(tmp_path / "b"))  # a cold cache
    source = [numbers.to_source_asset()]
    assert materialize([total, *source], resources=reader, selection=[total]).success
    assert fake_wandb.downloaded_bytes == fake_wandb.artifact("numbers:latest").size
    assert materialize([total, *source], resources=reader, selection=[total]).success
    assert fake_wandb.downloaded_bytes == fake_wandb.artifact("numbers:latest").size  # cached
    assert len(fake_wandb.artifact("numbers:latest").used_by_runs) == 2  # lineage every time


def test_writer_seeds_the_cache_so_the_reader_downloads_nothing(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any]
) -> None:
    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert materialize([numbers, total], resources=fake_wandb_resources).success
    assert fake_wandb.downloaded_bytes == 0


def test_cache_disabled_still_reads(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    resources = fake_wandb.resources(base_dir=str(tmp_path), cache_duration_in_minutes=0)

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert materialize([numbers, total], resources=resources).output_for_node("total") == 6
    storage = tmp_path / "storage" / "wandb_artifacts_manager"
    kept = [path for path in storage.rglob("*") if path.is_file()]
    assert kept == []  # nothing cached, scratch downloads removed at teardown
    assert fake_wandb.downloaded_bytes > 0


def test_get_returns_the_named_wandb_object(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    _external_artifact(fake_wandb, "external", tmp_path)
    external = AssetSpec("external").with_io_manager_key(IO)

    @asset(ins={"table": AssetIn(key="external", metadata=_config(get="my_table"))})
    def column(table: wandb.Table) -> list[int]:
        return list(table.get_column("a"))

    result = materialize([external, column], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.output_for_node("column") == [7]


def test_get_of_a_missing_object_lists_what_is_there(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    _external_artifact(fake_wandb, "external", tmp_path, **{"a.txt": "a"})
    external = AssetSpec("external").with_io_manager_key(IO)

    @asset(ins={"table": AssetIn(key="external", metadata=_config(get="nope"))})
    def column(table: Any) -> Any:
        return table

    with pytest.raises(WandbArtifactsIOManagerError) as error:
        materialize([external, column], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert str(error.value) == (
        "asset 'column', input 'table': wandb_artifact_configuration.get: no W&B object named "
        "'nope' in artifact 'external:latest'. W&B objects in it (names for get): my_table; files "
        "(paths for get_path): a.txt, my_table.table.json"
    )


def test_get_path_returns_a_local_file(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    _external_artifact(fake_wandb, "external", tmp_path, **{"data.csv": "x,y\n1,2\n"})
    external = AssetSpec("external").with_io_manager_key(IO)

    @asset(ins={"path": AssetIn(key="external", metadata=_config(get_path="data.csv"))})
    def read_path(path: str) -> str:
        assert path.endswith("data.csv")
        return Path(path).read_text()

    resources = fake_wandb.resources(base_dir=str(tmp_path / "storage-dir"))
    assert (
        materialize([external, read_path], resources=resources).output_for_node("read_path")
        == "x,y\n1,2\n"
    )


def test_get_path_of_a_missing_file_lists_what_is_there(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    _external_artifact(fake_wandb, "external", tmp_path, **{"data.csv": "1"})
    external = AssetSpec("external").with_io_manager_key(IO)

    @asset(ins={"path": AssetIn(key="external", metadata=_config(get_path="other.csv"))})
    def read_path(path: str) -> str:
        return path

    with pytest.raises(
        WandbArtifactsIOManagerError,
        match=r"no file 'other.csv' in artifact 'external:latest'. W&B objects in it \(names for "
        r"get\): my_table; files \(paths for get_path\): data.csv, my_table.table.json$",
    ):
        materialize([external, read_path], resources=fake_wandb.resources(base_dir=str(tmp_path)))


def test_whole_artifact_without_serialized_object_is_the_verified_artifact(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    _external_artifact(fake_wandb, "external", tmp_path, **{"data.csv": "1"})
    external = SourceAsset(key=AssetKey("external"), io_manager_key=IO)  # legacy declaration

    @asset
    def read_artifact(external: Any) -> str:
        return str(external.name)

    result = materialize(
        [external, read_artifact], resources=fake_wandb.resources(base_dir=str(tmp_path))
    )
    # Named as looked up, like the SDK names it (the version is v0).
    assert result.output_for_node("read_artifact") == "external:latest"
    assert fake_wandb.downloads == 1


@pytest.mark.parametrize(
    ("selector", "expected"), [({"version": "v0"}, [1]), ({"alias": "best"}, [2]), ({}, [3])]
)
def test_version_and_alias_select_the_version(
    fake_wandb: FakeWandb, tmp_path: Path, selector: dict[str, str], expected: list[int]
) -> None:
    for value, aliases in (([1], []), ([2], ["best"]), ([3], [])):
        artifact = wandb.Artifact("history", "dataset")
        with artifact.new_file("output.pickle", "wb") as file:
            import pickle

            pickle.dump(value, file)
        fake_wandb.store(artifact, aliases=aliases)
    history = AssetSpec("history").with_io_manager_key(IO)

    @asset(ins={"history": AssetIn(metadata=_config(**selector))})
    def pick(history: list[int]) -> list[int]:
        return history

    result = materialize([history, pick], resources=fake_wandb.resources(base_dir=str(tmp_path)))
    assert result.output_for_node("pick") == expected


def test_missing_artifact_names_what_was_looked_up(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    missing = AssetSpec("missing").with_io_manager_key(IO)

    @asset(ins={"missing": AssetIn(metadata=_config(alias="prod"))})
    def reader(missing: Any) -> Any:
        return missing

    with pytest.raises(WandbArtifactNotFoundError) as error:
        materialize(
            [missing, reader],
            resources=fake_wandb.resources(project="proj", base_dir=str(tmp_path)),
        )
    assert str(error.value) == (
        "asset 'reader', input 'missing': W&B artifact 'fake-entity/proj/missing:prod' was not "
        "found. Check that asset 'missing' was materialized to W&B (an asset made outside "
        "Dagster: logged as 'missing'), that WandbResource's entity and project are the ones "
        "it went to ('fake-entity/proj') and that one of its versions has the alias 'prod'"
    )
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_both_version_and_alias_is_an_error(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    history = AssetSpec("history").with_io_manager_key(IO)

    @asset(ins={"history": AssetIn(metadata=_config(version="v1", alias="best"))})
    def pick(history: Any) -> Any:
        return history

    with pytest.raises(WandbConfigurationError, match="'version' and 'alias' both given"):
        materialize([history, pick], resources=fake_wandb.resources(base_dir=str(tmp_path)))


def test_op_input_reads_by_configured_name(fake_wandb: FakeWandb, tmp_path: Path) -> None:
    _external_artifact(fake_wandb, "my_artifact", tmp_path)
    seen = []

    @op(
        ins={
            "table": In(metadata=_config(name="my_artifact", get="my_table"), input_manager_key=IO)
        }
    )
    def read_table(table: wandb.Table) -> None:
        seen.append(table.get_column("a"))

    @job(resource_defs=fake_wandb.resources(base_dir=str(tmp_path)))
    def read_job() -> None:
        read_table()

    assert read_job.execute_in_process().success
    assert seen == [[7]]
    run = fake_wandb.runs[0]
    assert [artifact.source_name for artifact in run.used] == ["my_artifact:v0"]


def test_op_input_without_name_is_an_error(fake_wandb: FakeWandb) -> None:
    @op(ins={"table": In(input_manager_key=IO)})
    def read_table(table: Any) -> None:
        del table

    @job(resource_defs=fake_wandb.resources())
    def read_job() -> None:
        read_table()

    with pytest.raises(
        WandbConfigurationError,
        match=r"op 'read_table', input 'table': "
        r"wandb_artifact_configuration\.name: required",
    ):
        read_job.execute_in_process()


def test_cached_payload_is_read_without_fetching_the_manifest(
    fake_wandb: FakeWandb, fake_wandb_resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payload index (by artifact digest) spares the manifest fetch on a cache hit."""
    from dagster_wandb_v2.testing.fake import FakeArtifact

    manifest_reads: list[str] = []
    original = FakeArtifact.manifest

    def counting_manifest(self: FakeArtifact) -> Any:
        manifest_reads.append(self.name)
        return original.fget(self)  # type: ignore[attr-defined]

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    assert materialize([numbers], resources=fake_wandb_resources).success  # seeds the cache
    monkeypatch.setattr(FakeArtifact, "manifest", property(counting_manifest))
    result = materialize([numbers, total], resources=fake_wandb_resources, selection=[total])
    assert result.output_for_node("total") == 6
    assert manifest_reads == []
    assert fake_wandb.downloaded_bytes == 0


def test_get_path_of_an_entry_in_a_folder_cold_and_warm(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    """The fake downloads entries to ``root/<entry path>`` like the SDK does."""
    (tmp_path / "train.csv").write_text("a,b\n1,2\n")
    artifact = wandb.Artifact("nested", "dataset")
    artifact.add_file(str(tmp_path / "train.csv"), name="data/train.csv")
    fake_wandb.store(artifact, project="fake-project")
    external = AssetSpec("nested").with_io_manager_key(IO)

    @asset(ins={"nested": AssetIn(metadata=_config(get_path="data/train.csv"))})
    def rows(nested: str) -> str:
        assert Path(nested).as_posix().endswith("/data/train.csv")
        return Path(nested).read_text()

    resources = fake_wandb.resources(base_dir=str(tmp_path / "storage"))
    for _ in ("cold", "warm"):
        result = materialize([external, rows], resources=resources)
        assert result.output_for_node("rows") == "a,b\n1,2\n"


def test_whole_read_fetches_file_references_like_the_sdk(
    fake_wandb: FakeWandb, tmp_path: Path
) -> None:
    """The fake downloads ``file://`` references as the SDK does against a server (see
    ``tests/server/test_references.py``), and fails the same way when the file is gone."""
    (tmp_path / "referenced.csv").write_text("a,b")
    artifact = wandb.Artifact("with_ref", "dataset")
    artifact.add_reference((tmp_path / "referenced.csv").as_uri(), name="data/ref.csv")
    stored = fake_wandb.store(artifact, project="fake-project")
    with_ref = AssetSpec(key="with_ref").with_io_manager_key(IO)

    @asset
    def read_ref(with_ref: Any) -> str:
        return Path(with_ref.download(root=str(tmp_path / "dl"), skip_cache=True)).name

    resources = fake_wandb.resources(base_dir=str(tmp_path / "base"))
    assert materialize([with_ref, read_ref], resources=resources).success
    assert (tmp_path / "dl" / "data" / "ref.csv").read_text() == "a,b"

    (tmp_path / "referenced.csv").unlink()
    with pytest.raises(ValueError, match="Failed to find file"):
        stored.download(root=str(tmp_path / "again"))


@pytest.fixture
def opened_files(fake_wandb: FakeWandb, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the stored files read as one stream (``open_file``), in order."""
    opened: list[str] = []
    original = FakeWandb.open_file

    def counting(backend: FakeWandb, file: StoredFile) -> Any:
        opened.append(file.path)
        return original(backend, file)

    monkeypatch.setattr(FakeWandb, "open_file", counting)
    return opened


@pytest.fixture
def loaded_from_files(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The payload files unpickled from the cache (not while they arrived), in order."""
    loaded: list[Path] = []
    load = SerializationModule.load

    def counting_load(module: SerializationModule, path: Path) -> Any:
        loaded.append(path)
        return load(module, path)

    monkeypatch.setattr(SerializationModule, "load", counting_load)
    return loaded


@pytest.mark.parametrize("cache_minutes", [60, 0])
def test_payloads_are_streamed_checked_and_large_ones_unpickled_as_they_arrive(
    fake_wandb: FakeWandb,
    tmp_path: Path,
    opened_files: list[str],
    loaded_from_files: list[Path],
    cache_minutes: int,
) -> None:
    assert materialize([numbers], resources=fake_wandb.resources(base_dir=str(tmp_path / "a")))

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    source = [numbers.to_source_asset()]
    small = fake_wandb.resources(
        base_dir=str(tmp_path / "b"),
        unpickle_while_receiving_from_bytes=1 << 20,
        cache_duration_in_minutes=cache_minutes,
    )
    assert materialize([total, *source], resources=small).output_for_node("total") == 6
    assert opened_files == ["output.pickle"]
    # below the threshold: unpickled from the cached file, once its MD5 matched
    assert [path.name for path in loaded_from_files] == ["output.pickle"]
    loaded_from_files.clear()
    reader = fake_wandb.resources(
        base_dir=str(tmp_path / "c"),
        unpickle_while_receiving_from_bytes=1,
        cache_duration_in_minutes=cache_minutes,
    )
    assert materialize([total, *source], resources=reader).output_for_node("total") == 6
    assert opened_files == ["output.pickle", "output.pickle"]
    assert loaded_from_files == []  # unpickled from the stream, not from the file after it

    stored = fake_wandb.artifact("numbers:latest").manifest.entries["output.pickle"].stored_file
    stored.chmod(0o644)
    content = stored.read_bytes()
    assert content.endswith(b"K\x03e.")  # [1, 2, 3], pickled
    stored.write_bytes(content[:-3] + b"\x04e.")  # [1, 2, 4]: unpickles, wrong
    damaged = fake_wandb.resources(
        base_dir=str(tmp_path / "d"), unpickle_while_receiving_from_bytes=1
    )
    with pytest.raises(WandbArtifactsIOManagerError, match=r"asset 'total'.*MD5"):
        materialize([total, *source], resources=damaged)
    assert list((tmp_path / "d").rglob("output.pickle")) == []
