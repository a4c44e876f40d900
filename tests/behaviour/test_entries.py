"""Reading a logged version: entries (in sub-folders too), W&B objects, downloads, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import wandb

from dagster_wandb_v2.client import WandbRun
from tests.behaviour.backends import Backend, log


def test_get_entry_of_a_file_in_a_folder(backend: Backend, run: WandbRun, tmp_path: Path) -> None:
    log(run, backend.draft("ds", "x,y\n1,2\n", **{"README.md": "r"}))
    used = run.use_artifact(backend.path("ds:latest"))
    entry = used.get_entry("data/train.csv")
    assert entry.path == "data/train.csv"
    downloaded = Path(entry.download(root=str(tmp_path / "one")))
    assert downloaded == tmp_path / "one" / "data" / "train.csv"
    assert downloaded.read_text() == "x,y\n1,2\n"
    assert not (tmp_path / "one" / "README.md").exists()


def _read_all(stream: Any) -> bytes:
    try:
        parts = []
        while part := stream.read(3):  # small reads: the stream keeps its place
            parts.append(part)
        return b"".join(parts)
    finally:
        stream.close()


def test_stored_files_are_listed_without_the_manifest_and_streamed(
    backend: Backend, run: WandbRun, tmp_path: Path
) -> None:
    """What payloads and ``get_path`` files are read through (``Artifact.files``, then one
    ``GET`` of a ``directUrl`` on W&B), with the step's run or without one: the files asked
    for, in that order, with W&B's size and MD5; missing paths and references left out."""
    referenced = tmp_path / "referenced.csv"
    referenced.write_text("ref")
    draft = backend.draft("ds", "x,y\n1,2\n", **{"README.md": "r"})
    draft.add_reference(referenced.as_uri(), name="data/ref.csv")
    log(run, draft)
    used = run.use_artifact(backend.path("ds:latest"))
    wanted = ["README.md", "data/missing.csv", "data/ref.csv", "data/train.csv"]
    files = run.stored_files(used, wanted)
    assert [file.path for file in files] == ["README.md", "data/train.csv"]
    entries = backend.lookup("ds:latest").manifest.entries
    assert [(file.size, file.md5) for file in files] == [
        (entries[file.path].size, entries[file.path].digest) for file in files
    ]
    assert _read_all(run.open_file(files[1])) == b"x,y\n1,2\n"
    reader = backend.client.artifact_reader(backend.entity, backend.project)
    looked_up = reader.use_artifact(backend.path("ds:v0"))
    [readme] = reader.stored_files(looked_up, ["README.md"])
    assert _read_all(reader.open_file(readme)) == b"r"
    assert run.stored_files(used, []) == []


def test_download_keeps_folders_and_verify_accepts_it(
    backend: Backend, run: WandbRun, tmp_path: Path
) -> None:
    log(run, backend.draft("ds", "rows", **{"README.md": "r", "data/test/part-0.csv": "t"}))
    used = run.use_artifact(backend.path("ds:latest"))
    root = Path(used.download(root=str(tmp_path / "all")))
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["README.md", "data/test/part-0.csv", "data/train.csv"]
    used.verify(root=str(root))


@pytest.mark.parametrize("tamper", ["extra file", "changed file"])
def test_verify_refuses_a_changed_download(
    backend: Backend, run: WandbRun, tmp_path: Path, tamper: str
) -> None:
    log(run, backend.draft("ds", "rows"))
    used = run.use_artifact(backend.path("ds:latest"))
    root = Path(used.download(root=str(tmp_path / "all")))
    if tamper == "extra file":
        (root / "data" / "other.csv").write_text("o")
    else:
        (root / "data" / "train.csv").write_text("ROWS")
    with pytest.raises(ValueError):
        used.verify(root=str(root))


def test_get_returns_a_wandb_object_stored_in_a_folder(backend: Backend, run: WandbRun) -> None:
    draft = wandb.Artifact("tables", "dataset")
    draft.add(wandb.Table(columns=["a", "b"], data=[[1, 2], [3, 4]]), "splits/train")
    log(run, draft)
    used = run.use_artifact(backend.path("tables:latest"))
    assert list(used.manifest.entries) == ["splits/train.table.json"]
    table = used.get("splits/train")
    assert isinstance(table, wandb.Table)
    assert table.get_column("a") == [1, 3]
    assert used.get_entry("splits/train").path == "splits/train.table.json"


def test_download_without_a_root_goes_to_the_artifact_dir(
    backend: Backend, run: WandbRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's default root: ``$WANDB_ARTIFACT_DIR/<collection>:vN``."""
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifact-dir"))
    log(run, backend.draft("ds", "rows"), ["best"])
    used = run.use_artifact(backend.path("ds:best"))
    root = tmp_path / "artifact-dir" / "ds:v0"
    assert Path(used.download()) == root
    assert (root / "data" / "train.csv").read_text() == "rows"
    used.verify()
    (root / "data" / "train.csv").unlink()
    assert Path(used.get_entry("data/train.csv").download()) == root / "data" / "train.csv"


def test_reference_entries_keep_their_uri(backend: Backend, run: WandbRun) -> None:
    """``add_reference`` entries are stored as URIs (nothing is fetched here)."""
    draft = backend.draft("ds", "rows")
    draft.add_reference("https://example.com/key.bin", name="refs/key.bin", checksum=False)
    log(run, draft)
    used = run.use_artifact(backend.path("ds:latest"))
    assert sorted(used.manifest.entries) == ["data/train.csv", "refs/key.bin"]
    entry = used.get_entry("refs/key.bin")
    assert (entry.path, cast(Any, entry).ref) == ("refs/key.bin", "https://example.com/key.bin")
    assert cast(Any, used.get_entry("data/train.csv")).ref is None
