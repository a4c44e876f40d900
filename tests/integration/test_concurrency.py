"""Concurrent writers and readers sharing one W&B project and one local cache directory.

- two Dagster runs in two processes materialize the same asset at the same moment, with
  different contents: two versions, nothing lost, every cache entry intact, every read
  returns exactly what was written;
- a multiprocess-executor run fans one payload out to 8 parallel steps, each reading it
  and writing its own artifact, and a last step reads the 8 back: every read returns
  exactly what was written, and the shared cache holds no corrupted or half-made entry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetIn,
    AssetSpec,
    DagsterInstance,
    asset,
    execute_job,
    materialize,
    reconstructable,
)

from dagster_wandb_v2.cache import CONTENT, STALE_TMP_SECONDS, ArtifactCache, blob_key
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import LocalWandbServer
from tests.integration.concurrency_pipeline import FAN_OUT, SOURCE, fan_out_job, fan_value

IO = "wandb_artifacts_manager"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _cache_dir(storage: Path) -> Path:
    return storage / "storage" / "wandb_artifacts_manager"


def _check_cache(storage: Path) -> list[Path]:
    """Every cached blob's content matches the digest it is filed under; nothing half-made
    is left in ``tmp/``. Returns the blob files."""
    cache = _cache_dir(storage)
    files = []
    for entry in (cache / "blobs").iterdir():
        (file,) = (path for path in (entry / CONTENT).rglob("*") if path.is_file())
        md5 = base64.b64encode(hashlib.md5(file.read_bytes()).digest()).decode()
        path = file.relative_to(entry / CONTENT).as_posix()
        assert blob_key(md5, path) == entry.name, f"corrupted cache entry {file}"
        files.append(file)
    leftovers = (
        sorted(p.name for p in (cache / "tmp").iterdir()) if (cache / "tmp").exists() else []
    )
    assert leftovers == []
    return files


def _download(project: LocalWandbProject, name: str, root: Path) -> Any:
    artifact = project.api().artifact(project.path(name))
    directory = artifact.download(root=str(root / name.replace(":", "-")))
    with open(Path(directory) / "output.pickle", "rb") as file:
        return pickle.load(file)


def test_a_step_ending_spares_the_scratch_of_steps_still_running(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    ending, running = ArtifactCache(root, ttl_minutes=60), ArtifactCache(root, ttl_minutes=60)
    finished_scratch = ending.scratch_dir()
    in_use = running.scratch_dir()
    (in_use / "output.pickle").write_bytes(b"being uploaded")
    left_by_a_killed_process = root / "tmp" / "scratch-dead"
    left_by_a_killed_process.mkdir()
    a_day_ago = time.time() - STALE_TMP_SECONDS - 1
    os.utime(left_by_a_killed_process, (a_day_ago, a_day_ago))
    ending.clear_scratch()
    assert not finished_scratch.exists()
    assert not left_by_a_killed_process.exists()
    assert (in_use / "output.pickle").read_bytes() == b"being uploaded"


def test_two_runs_in_two_processes_write_the_same_asset_at_once(
    local_wandb: LocalWandbProject, tmp_path: Path
) -> None:
    storage = tmp_path / "shared-storage"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    repeat = 1 << 20
    written = {letter: letter * repeat for letter in ("A", "B")}  # 1 MiB each
    base = {
        **{key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"},
        "RELIABILITY_PROJECT": local_wandb.project,
        "RELIABILITY_STORAGE": str(storage),
        "RELIABILITY_BARRIER": str(barrier),
        "RELIABILITY_PARTIES": "2",
        "RELIABILITY_REPEAT": str(repeat),
    }
    processes = {
        letter: subprocess.Popen(
            [sys.executable, "-m", "tests.integration.reliability_pipeline"],
            cwd=REPO_ROOT,
            env={**base, "RELIABILITY_VALUE": letter},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for letter in written
    }
    outcome = {}
    for letter, process in processes.items():
        stdout, _ = process.communicate(timeout=120)
        outcome[letter] = json.loads(stdout.strip().splitlines()[-1])
    assert [outcome[letter]["success"] for letter in written] == [True, True]

    # No lost version: one per run, each holding what that run wrote.
    api = local_wandb.api()
    versions = {
        artifact.version: artifact
        for artifact in api.artifacts("dataset", local_wandb.path("payload"))
    }
    assert sorted(versions) == ["v0", "v1"]
    for version, artifact in versions.items():
        writer = next(
            letter
            for letter in written
            if outcome[letter]["run_id"] == artifact.metadata["source_dagster_run_id"]
        )
        assert _download(local_wandb, f"payload:{version}", tmp_path) == written[writer]
    # Each run's downstream read got one complete value (whichever was latest then).
    digests = {hashlib.sha256(value.encode()).hexdigest() for value in written.values()}
    assert {outcome[letter]["echo_sha256"] for letter in written} <= digests

    # The shared cache: intact entries, each holding one of the written values, and reading
    # each version through it returns exactly that version.
    for file in _check_cache(storage):
        with open(file, "rb") as handle:
            assert pickle.load(handle) in written.values()
    upstream = AssetSpec("payload").with_io_manager_key(IO)
    for version in ("v0", "v1"):

        @asset(
            name=f"read_{version}",
            ins={
                "payload": AssetIn(metadata={"wandb_artifact_configuration": {"version": version}})
            },
        )
        def read(payload: str) -> str:
            return payload

        result = materialize(
            [upstream, read], resources=local_wandb.resources(base_dir=str(storage))
        )
        assert result.output_for_node(f"read_{version}") == _download(
            local_wandb, f"payload:{version}", tmp_path
        )


def test_eight_parallel_steps_share_one_cache_directory(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    storage = tmp_path / "shared-storage"
    monkeypatch.setenv("CONCURRENCY_PROJECT", local_wandb.project)
    monkeypatch.setenv("CONCURRENCY_STORAGE", str(storage))
    # Slow uploads down a little so that the 8 steps' writes overlap.
    local_wandb_server.faults.delay("upload", seconds=0.3)
    (tmp_path / "instance").mkdir()
    try:
        with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
            result = execute_job(reconstructable(fan_out_job), instance=instance)
            failures = [
                event.step_failure_data.error.to_string()
                for event in result.all_events
                if event.is_step_failure and event.step_failure_data.error is not None
            ]
            assert result.success, failures
    finally:
        local_wandb_server.faults.clear()

    # Every fan-out step read the source exactly and wrote its own value...
    expected = {f"fan_{index}": fan_value(index, SOURCE) for index in range(FAN_OUT)}
    for name, value in expected.items():
        assert _download(local_wandb, f"{name}:latest", tmp_path) == value
    # ...and the collector read exactly those 8 values back.
    assert _download(local_wandb, "collected:latest", tmp_path) == {
        name: hashlib.sha256(repr(sorted(value.items())).encode()).hexdigest()
        for name, value in expected.items()
    }
    # One cache entry per distinct payload (source, 8 fan-outs, collected), all intact.
    assert len(_check_cache(storage)) == FAN_OUT + 2
