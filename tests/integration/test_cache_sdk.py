"""The local cache through the real wandb SDK and the local W&B server.

- entry paths with folders (``data/train.csv``) are read with ``get_path``, ``get``, whole
  reads and partitioned reads, from an empty cache and from a warm one;
- what the cache hands out cannot become artifact content: files are read-only, and a cached
  file edited, truncated or deleted after all is found out on the next hit and downloaded
  again, never served (``get_path`` files, payloads and their index, seeded payloads,
  whole-artifact directories).
"""

import hashlib
import pickle
import stat
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)

from dagster_wandb_v2 import WandbArtifactsIOManagerError
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer

IO = "wandb_artifacts_manager"
CSV = "a,b\n1,2\n"
PLAIN = "a top-level file"
DEEP = "deep inside"


def _config(**config: Any) -> dict[str, Any]:
    return {"wandb_artifact_configuration": config}


def _cache_root(storage: Path) -> Path:
    return storage / "storage" / "wandb_artifacts_manager"


def _nested_artifact_asset(tmp_path: Path) -> AssetsDefinition:
    """An asset returning a ``wandb.Artifact`` whose entries sit in folders."""
    (tmp_path / "train.csv").write_text(CSV)
    (tmp_path / "copy.csv").write_text(CSV)  # same content as train.csv, another path
    (tmp_path / "plain.txt").write_text(PLAIN)
    folder = tmp_path / "images"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "a" / "b" / "deep.txt").write_text(DEEP)
    (folder / "top.txt").write_text("top")

    @asset(io_manager_key=IO)
    def nested() -> wandb.Artifact:
        artifact = wandb.Artifact("nested", "dataset")
        artifact.add_file(str(tmp_path / "train.csv"), name="data/train.csv")
        artifact.add_file(str(tmp_path / "copy.csv"), name="backup/train.csv")
        artifact.add_dir(str(folder), name="images")
        artifact.add_file(str(tmp_path / "plain.txt"), name="plain.txt")
        artifact.add(wandb.Table(columns=["a"], data=[[1], [2]]), "tables/train")
        return artifact

    return nested


def _path_reader(name: str, path: str) -> AssetsDefinition:
    @asset(
        name=name,
        ins={"nested": AssetIn(input_manager_key=IO, metadata=_config(get_path=path))},
    )
    def reader(nested: str) -> str:
        return nested

    return reader


# --- entry paths with folders -----------------------------------------------------------


def test_get_path_of_entries_in_folders_from_a_cold_and_a_warm_cache(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    nested = _nested_artifact_asset(tmp_path)
    readers = [
        _path_reader("train", "data/train.csv"),
        _path_reader("backup", "backup/train.csv"),  # same digest as data/train.csv
        _path_reader("deep", "images/a/b/deep.txt"),
    ]
    assert materialize([nested], resources=local_wandb.resources()).success
    # Another machine: nothing seeded, the first pass downloads, the second hits.
    resources = local_wandb.resources(base_dir=str(local_wandb.storage_dir / "reader"))
    for _ in ("cold cache", "warm cache"):
        result = materialize([nested, *readers], resources=resources, selection=readers)
        paths = {name: Path(result.output_for_node(name)) for name in ("train", "backup", "deep")}
        assert paths["train"].as_posix().endswith("/data/train.csv")
        assert paths["backup"].as_posix().endswith("/backup/train.csv")
        assert paths["deep"].as_posix().endswith("/images/a/b/deep.txt")
        assert paths["train"].read_text() == paths["backup"].read_text() == CSV
        assert paths["deep"].read_text() == DEEP


def test_get_of_a_table_in_a_folder_and_whole_nested_artifact(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    nested = _nested_artifact_asset(tmp_path)

    @asset(ins={"nested": AssetIn(input_manager_key=IO, metadata=_config(get="tables/train"))})
    def column(nested: wandb.Table) -> list[int]:
        return list(nested.get_column("a"))

    @asset(ins={"nested": AssetIn(input_manager_key=IO)})
    def whole(nested: wandb.Artifact) -> list[str]:
        return sorted(nested.manifest.entries)

    assert materialize([nested], resources=local_wandb.resources()).success
    for _ in range(2):
        result = materialize(
            [nested, column, whole], selection=[column, whole], resources=local_wandb.resources()
        )
        assert result.output_for_node("column") == [1, 2]
        assert result.output_for_node("whole") == [
            "backup/train.csv",
            "data/train.csv",
            "images/a/b/deep.txt",
            "images/top.txt",
            "plain.txt",
            "tables/train.table.json",
        ]
    (deep,) = (_cache_root(local_wandb.storage_dir) / "artifacts").rglob("deep.txt")
    assert deep.as_posix().endswith("/images/a/b/deep.txt")


def test_partitioned_get_path_of_entries_in_folders(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    shards = StaticPartitionsDefinition(["eu", "us"])

    @asset(partitions_def=shards, io_manager_key=IO)
    def shard(context: AssetExecutionContext) -> wandb.Artifact:
        local = tmp_path / f"{context.partition_key}.csv"
        local.write_text(f"rows of {context.partition_key}")
        artifact = wandb.Artifact("shard", "dataset")
        artifact.add_file(str(local), name=f"region/{context.partition_key}/rows.csv")
        return artifact

    @asset(
        ins={
            "shard": AssetIn(
                input_manager_key=IO,
                metadata=_config(
                    partitions={
                        "eu": {"get_path": "region/eu/rows.csv"},
                        "us": {"get_path": "region/us/rows.csv"},
                    }
                ),
            )
        }
    )
    def rows(shard: dict[str, str]) -> dict[str, str]:
        return {key: Path(path).read_text() for key, path in shard.items()}

    resources = local_wandb.resources()
    for key in shards.get_partition_keys():
        assert materialize([shard], resources=resources, partition_key=key).success
    for _ in range(2):
        result = materialize([shard, rows], resources=resources, selection=[rows])
        assert result.output_for_node("rows") == {"eu": "rows of eu", "us": "rows of us"}


# --- handed-out files cannot corrupt the cache ------------------------------------------


def _writable(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o222 != 0


def test_every_cached_file_is_read_only_and_its_folders_writable(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    """Read-only files stop a user's edits (unless root); writable folders let eviction and
    cleanup delete them."""
    nested = _nested_artifact_asset(tmp_path)

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"nested": AssetIn(input_manager_key=IO), "numbers": AssetIn(input_manager_key=IO)})
    def whole(nested: wandb.Artifact, numbers: list[int]) -> int:
        return len(nested.manifest.entries) + len(numbers)

    reader = _path_reader("train", "plain.txt")
    resources = local_wandb.resources()
    assert materialize([nested, numbers], resources=resources).success
    result = materialize(
        [nested, numbers, whole, reader], resources=resources, selection=[whole, reader]
    )
    handed_out = Path(result.output_for_node("train"))
    assert not _writable(handed_out)
    cache = _cache_root(local_wandb.storage_dir)
    cached = [
        path
        for section in ("blobs", "payloads", "artifacts")
        for path in (cache / section).rglob("*")
        if path.name in {"deep.txt", "output.pickle", "plain.txt"}
    ]
    sections = {path.relative_to(cache).parts[0] for path in cached}
    assert sections == {"blobs", "payloads", "artifacts"}
    assert {path.name for path in cached} == {"deep.txt", "output.pickle", "plain.txt"}
    assert [path for path in cached if _writable(path)] == []
    folders = [path for path in cache.rglob("*") if path.is_dir()]
    assert [path for path in folders if not _writable(path)] == []
    # With the cache off, teardown evicts every entry: read-only files are no obstacle.
    no_cache = local_wandb.resources(cache_duration_in_minutes=0)
    assert materialize([nested, numbers, whole], resources=no_cache, selection=[whole]).success
    left = [
        path
        for section in ("blobs", "payloads", "artifacts")
        for path in (cache / section).rglob("*")
        if path.is_file()
    ]
    assert left == []


@pytest.mark.parametrize("damage", ["edit", "same_size_edit", "truncate", "delete"])
def test_a_damaged_get_path_file_is_downloaded_again(
    local_wandb: LocalWandbProject, tmp_path: Path, damage: str
) -> None:
    nested = _nested_artifact_asset(tmp_path)
    reader = _path_reader("train", "plain.txt")  # no folder: fails only for what it tests
    resources = local_wandb.resources()
    assert materialize([nested], resources=resources).success
    first = Path(
        materialize([nested, reader], resources=resources, selection=[reader]).output_for_node(
            "train"
        )
    )
    if damage == "delete":
        first.unlink()
    else:
        # A user who can write anyway (root, or after chmod) edits the file in place.
        first.chmod(0o644)
        text = {"edit": "poisoned", "same_size_edit": PLAIN.upper(), "truncate": ""}[damage]
        first.write_text(text)
    again = Path(
        materialize([nested, reader], resources=resources, selection=[reader]).output_for_node(
            "train"
        )
    )
    assert again.read_text() == PLAIN


def test_damaged_payloads_are_never_unpickled(local_wandb: LocalWandbProject) -> None:
    """The writer seeds its payload; damage to the seeded file (and so to the payload
    index, a hard link to it) is found out and the payload downloaded again."""

    @asset(metadata=_config(type="dataset"), io_manager_key=IO)
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"numbers": AssetIn(input_manager_key=IO)})
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    resources = local_wandb.resources()
    assert materialize([numbers], resources=resources).success
    payloads = sorted(_cache_root(local_wandb.storage_dir).rglob("output.pickle"))
    assert payloads, "the writer seeded nothing"
    for damage in (b"", pickle.dumps([100, 200, 300])):
        for payload in payloads:
            payload.chmod(0o644)
            payload.write_bytes(damage)
        result = materialize([numbers, total], resources=resources, selection=[total])
        assert result.output_for_node("total") == 6
        payloads = sorted(_cache_root(local_wandb.storage_dir).rglob("output.pickle"))
        assert all(pickle.loads(path.read_bytes()) == [1, 2, 3] for path in payloads)


def test_a_damaged_whole_artifact_directory_is_downloaded_again(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    nested = _nested_artifact_asset(tmp_path)

    @asset(ins={"nested": AssetIn(input_manager_key=IO)})
    def whole(nested: wandb.Artifact) -> int:
        return len(nested.manifest.entries)

    resources = local_wandb.resources()
    assert materialize([nested], resources=resources).success
    assert materialize([nested, whole], resources=resources, selection=[whole]).success
    artifacts = _cache_root(local_wandb.storage_dir) / "artifacts"
    (deep,) = artifacts.rglob("deep.txt")
    for damage in ("edit", "extra file", "delete"):
        if damage == "edit":
            deep.chmod(0o644)
            deep.write_text("poisoned")
        elif damage == "extra file":
            (deep.parent / "stray.txt").write_text("not in the artifact")
        else:
            deep.unlink()
        result = materialize([nested, whole], resources=resources, selection=[whole])
        assert result.output_for_node("whole") == 6
        (deep,) = artifacts.rglob("deep.txt")
        assert deep.read_text() == DEEP
        assert not list(artifacts.rglob("stray.txt"))


def test_an_edited_file_of_a_table_read_with_get_is_downloaded_again(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``get`` goes through the SDK's own download, which checks digests itself."""
    monkeypatch.delenv("WANDB_ARTIFACT_DIR")  # the SDK's downloads go to the cache
    nested = _nested_artifact_asset(tmp_path)

    @asset(ins={"nested": AssetIn(input_manager_key=IO, metadata=_config(get="tables/train"))})
    def column(nested: wandb.Table) -> list[int]:
        return list(nested.get_column("a"))

    resources = local_wandb.resources()
    assert materialize([nested], resources=resources).success
    assert materialize([nested, column], resources=resources, selection=[column]).success
    (table_file,) = (_cache_root(local_wandb.storage_dir) / "sdk-artifacts").rglob(
        "train.table.json"
    )
    table_file.write_text(table_file.read_text().replace("1", "7"))
    result = materialize([nested, column], resources=resources, selection=[column])
    assert result.output_for_node("column") == [1, 2]


def test_a_download_not_matching_the_manifest_is_never_cached(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK does not check what it downloads against the manifest; the cache does."""
    nested = _nested_artifact_asset(tmp_path)
    reader = _path_reader("train", "plain.txt")
    assert materialize([nested], resources=local_wandb.resources()).success
    stored = local_wandb_server.storage.blobs.path(hashlib.md5(PLAIN.encode()).hexdigest())
    stored.write_text(PLAIN.upper())  # same size, other bytes: what a bad transfer gives
    # A fresh SDK file cache, so the SDK downloads instead of copying the writer's file.
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "sdk-cache-1"))
    resources = local_wandb.resources(base_dir=str(local_wandb.storage_dir / "reader"))
    with pytest.raises(WandbArtifactsIOManagerError, match="W&B's manifest says"):
        materialize([nested, reader], resources=resources, selection=[reader])
    cache = _cache_root(local_wandb.storage_dir / "reader")
    assert list(cache.rglob("plain.txt")) == []

    stored.write_text(PLAIN)
    monkeypatch.setenv(
        "WANDB_CACHE_DIR", str(tmp_path / "sdk-cache-2")
    )  # the SDK kept the bad copy
    result = materialize([nested, reader], resources=resources, selection=[reader])
    assert Path(result.output_for_node("train")).read_text() == PLAIN
