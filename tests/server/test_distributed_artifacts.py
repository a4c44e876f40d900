"""Distributed artifacts through the real wandb SDK: several runs ``upsert_artifact`` into
one version sharing a distributed id, one run ``finish_artifact``s it (W&B Artifacts guide,
"parallel runs"), and a ``PartitionedTable`` reads every part back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import wandb

NAME = "parallel-artifact"


def _fresh_api(server: Any) -> Any:
    return wandb.Api(
        api_key=server.api_key, overrides={"base_url": server.base_url, "entity": server.entity}
    )


def _upsert_part(project: str, group: str, index: int) -> None:
    """One writer of the guide's example: a one-row Table under ``parts/``."""
    with wandb.init(project=project, group=group) as run:
        artifact = wandb.Artifact(NAME, type="dataset")
        table = wandb.Table(columns=["a", "b", "c"], data=[[index, index * 2, 2**index]])
        artifact.add(table, f"parts/table_{index}")
        run.upsert_artifact(artifact)


def _finish(project: str, group: str) -> wandb.Artifact:
    with wandb.init(project=project, group=group) as run:
        artifact = wandb.Artifact(NAME, type="dataset")
        artifact.add(wandb.data_types.PartitionedTable("parts"), "distributed_table")
        run.finish_artifact(artifact)
    artifact.wait()
    return artifact


def _rows(table: Any) -> list[list[int]]:
    return sorted(list(row) for _, row in table.iterrows())


def test_runs_of_one_group_build_one_version(wandb_env: Any, project: str) -> None:
    group = "writers-1"
    for index in range(3):
        _upsert_part(project, group, index)

    api = _fresh_api(wandb_env)
    path = f"{wandb_env.entity}/{project}/{NAME}"
    assert not api.artifact_exists(f"{path}:latest"), "upserted parts are not a version yet"

    finished = _finish(project, group)
    assert finished.version == "v0"

    api = _fresh_api(wandb_env)
    artifact = api.artifact(f"{path}:latest")
    assert artifact.version == "v0"
    assert [v.version for v in api.artifacts("dataset", path)] == ["v0"]
    entries = set(artifact.manifest.entries)
    assert {f"parts/table_{i}.table.json" for i in range(3)} <= entries
    assert "distributed_table.partitioned-table.json" in entries
    assert artifact.digest == artifact.manifest.digest(), "the digest covers every part"
    assert artifact.digest == finished.digest

    table = artifact.get("distributed_table")
    assert isinstance(table, wandb.data_types.PartitionedTable)
    assert _rows(table) == [[0, 0, 1], [1, 2, 2], [2, 4, 4]]


def test_parallel_processes_share_a_distributed_id(wandb_env: Any, project: str) -> None:
    """Writers in separate processes, upserting at the same time, lose no part."""
    distributed_id = "parallel-writers"
    script = textwrap.dedent(
        f"""
        import sys, wandb
        i = int(sys.argv[1])
        with wandb.init(project={project!r}) as run:
            artifact = wandb.Artifact({NAME!r}, type="dataset")
            artifact.add(wandb.Table(columns=["i"], data=[[i]]), f"parts/table_{{i}}")
            run.upsert_artifact(artifact, distributed_id={distributed_id!r})
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(i)], env=dict(os.environ))
        for i in range(3)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]

    with wandb.init(project=project) as run:
        artifact = wandb.Artifact(NAME, type="dataset")
        artifact.add(wandb.data_types.PartitionedTable("parts"), "distributed_table")
        run.finish_artifact(artifact, distributed_id=distributed_id)

    artifact = _fresh_api(wandb_env).artifact(f"{wandb_env.entity}/{project}/{NAME}:latest")
    assert artifact.version == "v0"
    assert _rows(artifact.get("distributed_table")) == [[0], [1], [2]]


def test_finished_version_takes_no_more_parts(wandb_env: Any, project: str, tmp_path: Path) -> None:
    """After ``finish_artifact``, upserts with the same id start the next version."""
    group = "writers-2"
    _upsert_part(project, group, 0)
    first = _finish(project, group)
    _upsert_part(project, group, 1)
    second = _finish(project, group)

    assert (first.version, second.version) == ("v0", "v1")
    api = _fresh_api(wandb_env)
    path = f"{wandb_env.entity}/{project}/{NAME}"
    v0, v1 = api.artifact(f"{path}:v0"), api.artifact(f"{path}:v1")
    assert "parts/table_1.table.json" not in v0.manifest.entries
    assert _rows(v0.get("distributed_table")) == [[0, 0, 1]]
    assert _rows(v1.get("distributed_table")) == [[1, 2, 2]]
    assert api.artifact(f"{path}:latest").version == "v1"
    root = Path(v1.download(root=str(tmp_path / "v1")))
    assert sorted(p.name for p in (root / "parts").iterdir()) == ["table_1.table.json"]
