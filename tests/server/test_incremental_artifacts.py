"""Incremental artifacts through the real wandb SDK: a version logged with
``wandb.Artifact(..., incremental=True)`` (manifest type INCREMENTAL) holds the previous
version's entries plus its own; incremental Tables (``log_mode="INCREMENTAL"``) read back
every increment; a draft (``new_draft``) replaces its base's entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wandb


def _fresh_api(server: Any) -> Any:
    return wandb.Api(
        api_key=server.api_key, overrides={"base_url": server.base_url, "entity": server.entity}
    )


def _log_file(project: str, path: Path, incremental: bool = False) -> wandb.Artifact:
    with wandb.init(project=project) as run:
        artifact = wandb.Artifact("incremental-test", "dataset", incremental=incremental)
        artifact.add_file(str(path))
        run.log_artifact(artifact)
    artifact.wait()
    return artifact


@pytest.mark.parametrize("incremental", [False, True])
def test_incremental_version_adds_to_the_previous(
    wandb_env: Any, project: str, tmp_path: Path, incremental: bool
) -> None:
    """wandb's ``test_add_file_respects_incremental``, plus the digest and a download."""
    orig, new = tmp_path / "orig.txt", tmp_path / "new.txt"
    orig.write_text("orig data")
    new.write_text("new data")
    _log_file(project, orig)
    logged = _log_file(project, new, incremental=incremental)

    final = _fresh_api(wandb_env).artifact(f"{wandb_env.entity}/{project}/incremental-test:latest")
    assert final.version == "v1"
    expected = {"orig.txt", "new.txt"} if incremental else {"new.txt"}
    assert set(final.manifest.entries) == expected
    assert final.digest == final.manifest.digest() == logged.digest
    assert final.size == sum(len(p.read_text()) for p in (orig, new) if p.name in expected)
    root = Path(final.download(root=str(tmp_path / "dl")))
    assert {p.name for p in root.iterdir()} == expected


def test_draft_replaces_the_entries_of_its_base(
    wandb_env: Any, project: str, tmp_path: Path
) -> None:
    """``new_draft`` sends a FULL manifest naming its base: removals must stick."""
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(name)
    with wandb.init(project=project) as run:
        artifact = wandb.Artifact("drafted", "dataset")
        artifact.add_file(str(tmp_path / "a.txt"))
        artifact.add_file(str(tmp_path / "b.txt"))
        run.log_artifact(artifact)
    artifact.wait()

    api = _fresh_api(wandb_env)
    draft = api.artifact(f"{wandb_env.entity}/{project}/drafted:v0").new_draft()
    draft.remove("a.txt")
    draft.add_file(str(tmp_path / "c.txt"))
    with wandb.init(project=project) as run:
        run.log_artifact(draft)
    draft.wait()

    v1 = _fresh_api(wandb_env).artifact(f"{wandb_env.entity}/{project}/drafted:v1")
    assert set(v1.manifest.entries) == {"b.txt", "c.txt"}


def test_incremental_table_reads_every_increment(wandb_env: Any, project: str) -> None:
    with wandb.init(project=project) as run:
        table = wandb.Table(columns=["step", "square"], log_mode="INCREMENTAL")
        for step in range(3):
            table.add_data(step, step * step)
            run.log({"squares": table})
        run_id = run.id

    api = _fresh_api(wandb_env)
    artifacts = api.artifacts(
        "wandb-run-incremental-table", f"{wandb_env.entity}/{project}/run-{run_id}-incr-squares"
    )
    assert sorted(a.version for a in artifacts) == ["v0", "v1", "v2"]
    latest = api.artifact(
        f"{wandb_env.entity}/{project}/run-{run_id}-incr-squares:latest",
        type="wandb-run-incremental-table",
    )
    increments = sorted(latest.manifest.entries)
    assert len(increments) == 3, "each version holds the increments before it"
    last = max(increments, key=lambda name: int(name.split("-")[0].replace("None", "0")))
    read = latest.get(last.removesuffix(".table.json"))
    assert read.data == [[0, 0], [1, 1], [2, 4]]
