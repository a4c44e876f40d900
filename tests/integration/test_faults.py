"""Faults injected into the local W&B server, seen through the real wandb SDK.

- transient faults (a few 503s) are retried and the materialization succeeds;
- persistent faults fail the step quickly (with a bounded retry policy), name the artifact
  and the W&B operation, mark the W&B run failed, and never make a half-made version
  ``latest``;
- a step process killed mid-upload leaves the previous version intact and readable, and
  the next run succeeds.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetIn, ExecuteInProcessResult, asset, materialize

from dagster_wandb_v2 import WandbArtifactsIOManager, WandbResource
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import FaultRule, LocalWandbServer

IO = "wandb_artifacts_manager"
REPO_ROOT = Path(__file__).resolve().parents[2]
FAIL_FAST = {"max_retries": 2, "retry_wait_max_seconds": 1}
"""Three attempts, one second apart: a persistent fault fails a step in seconds."""


def _resources(
    project: LocalWandbProject, base_dir: str | None = None, **retry: Any
) -> dict[str, Any]:
    resource = WandbResource(
        api_key=project.api_key,
        host=project.base_url,
        entity=project.entity,
        project=project.project,
        **(retry or FAIL_FAST),
    )
    return {
        IO: WandbArtifactsIOManager(wandb=resource, base_dir=base_dir or str(project.storage_dir))
    }


def _assets(value: Any) -> list[Any]:
    @asset(metadata={"wandb_artifact_configuration": {"type": "dataset"}}, io_manager_key=IO)
    def payload() -> Any:
        return value

    @asset(ins={"payload": AssetIn(input_manager_key=IO)})
    def echo(payload: Any) -> Any:
        return payload

    return [payload, echo]


def _failures(server: LocalWandbServer, since: int) -> Counter[str]:
    """How many injected 503s each operation (or route) got since request ``since``."""
    return Counter(
        record.operation or record.route
        for record in server.requests_since(since)
        if record.status == 503
    )


def _error_of(result: ExecuteInProcessResult) -> str:
    """The user-facing error of the failed step (the IO manager's, not Dagster's wrapper)."""
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    while not error.message.startswith("dagster_wandb_v2.errors.") and error.cause is not None:
        error = error.cause
    return error.message.strip()


def _stored_value(project: LocalWandbProject, qualifier: str, root: Path) -> Any:
    artifact = project.api().artifact(project.path(f"payload:{qualifier}"))
    directory = artifact.download(root=str(root / f"download-{uuid.uuid4().hex[:6]}"))
    with open(Path(directory) / "output.pickle", "rb") as file:
        return pickle.load(file)


def _versions(project: LocalWandbProject) -> list[str]:
    return sorted(a.version for a in project.api().artifacts("dataset", project.path("payload")))


# --- the retry policy ------------------------------------------------------------------


def test_retry_policy_reaches_the_sdk_settings_of_the_run() -> None:
    bounded = WandbResource(
        api_key="k" * 40,
        project="p",
        max_retries=2,
        retry_wait_max_seconds=3,
        request_timeout_seconds=20,
    )
    settings = bounded.get_client().settings()  # type: ignore[attr-defined]
    for client in ("graphql", "file_transfer", "file_stream"):
        assert getattr(settings, f"x_{client}_retry_max") == 2
        assert getattr(settings, f"x_{client}_retry_wait_min_seconds") == 1
        assert getattr(settings, f"x_{client}_retry_wait_max_seconds") == 3
        assert getattr(settings, f"x_{client}_timeout_seconds") == 20
    default = WandbResource(api_key="k" * 40, project="p").get_client().settings()  # type: ignore[attr-defined]
    assert default.x_graphql_retry_max is None
    assert default.x_file_transfer_retry_max is None
    assert default.x_file_transfer_timeout_seconds is None


# --- transient faults --------------------------------------------------------------------


def test_transient_faults_on_every_write_and_read_request_are_retried(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Lookups go through wandb's process-wide API client: same 1 s waits as the runs'.
    monkeypatch.setenv("WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS", "1")
    monkeypatch.setenv("WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS", "1")
    value = {"content": uuid.uuid4().hex}  # new bytes: the blob is really uploaded
    injected = {
        "CreateArtifact": 1,
        "CreateArtifactFiles": 1,
        "upload": 1,
        "CreateArtifactManifest": 1,
        "CommitArtifact": 2,
        "ArtifactMembershipByName": 1,
        "StoredArtifactFiles": 1,
        "download": 1,
    }
    for operation, times in injected.items():
        local_wandb_server.faults.fail_next(operation, times=times, status=503)
    since = local_wandb_server.request_count
    # A reader elsewhere (its own cache): the payload is really downloaded.
    writer = _resources(local_wandb)
    assert materialize(_assets(value)[:1], resources=writer).success
    reader = _resources(local_wandb, base_dir=str(tmp_path / "reader"))
    result = materialize(_assets(value), resources=reader, selection=["echo"])
    local_wandb_server.faults.clear()
    assert result.success
    assert result.output_for_node("echo") == value
    assert _failures(local_wandb_server, since) == injected
    assert _versions(local_wandb) == ["v0"]


# --- persistent faults ---------------------------------------------------------------------


GRAPHQL_GAVE_UP = (
    "POST {base_url}/graphql giving up after 3 attempt(s)\n"
    'while retrying: HTTP 503: {{"error": "injected fault: HTTP 503"}}'
)


@pytest.mark.parametrize(
    ("operation", "sdk_error"),
    [
        ("CreateArtifact", "ArtifactSaver.createArtifact: " + GRAPHQL_GAVE_UP),
        (
            "upload",
            "ArtifactSaver.uploadFiles: most remaining uploads (1/1) have failed, giving up",
        ),
        ("CommitArtifact", "ArtifactSaver.commitArtifact: " + GRAPHQL_GAVE_UP),
    ],
    ids=["CreateArtifact", "upload", "CommitArtifact"],
)
def test_persistent_fault_fails_the_step_and_keeps_the_previous_latest(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    tmp_path: Path,
    operation: str,
    sdk_error: str,
) -> None:
    resources = _resources(local_wandb)
    assert materialize(_assets("old")[:1], resources=resources).success
    local_wandb_server.faults.add(FaultRule(operation, status=503, times=None))
    since = local_wandb_server.request_count
    started = time.monotonic()
    try:
        result = materialize(
            _assets(f"new {uuid.uuid4().hex}")[:1], resources=resources, raise_on_error=False
        )
    finally:
        local_wandb_server.faults.clear()
    elapsed = time.monotonic() - started
    assert not result.success
    assert _error_of(result) == (
        "dagster_wandb_v2.errors.WandbArtifactsIOManagerError: asset 'payload', output "
        "'result': could not log W&B artifact 'payload' (log_artifact): "
        + sdk_error.format(base_url=local_wandb.base_url)
    )
    assert _failures(local_wandb_server, since)[operation] >= 3
    assert elapsed < 20, f"a bounded retry policy should fail fast, took {elapsed:.1f}s"
    run = local_wandb.api().run(f"{local_wandb.entity}/{local_wandb.project}/{result.run_id}")
    assert run.state == "failed"
    # Nothing half-made is visible: v0 is still latest and the only version.
    assert local_wandb.api().artifact(local_wandb.path("payload:latest")).version == "v0"
    assert not local_wandb.api().artifact_exists(local_wandb.path("payload:v1"))
    assert _versions(local_wandb) == ["v0"]
    assert _stored_value(local_wandb, "latest", tmp_path) == "old"


def test_persistent_fault_on_a_read_names_the_artifact_and_the_operation(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Lookups go through wandb's process-wide API client, bounded by the environment.
    for name, value in {"RETRY_MAX": "2", "RETRY_WAIT_MIN_SECONDS": "1"}.items():
        monkeypatch.setenv(f"WANDB__GRAPHQL_{name}", value)
    monkeypatch.setenv("WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS", "1")
    assert materialize(_assets("stored")[:1], resources=_resources(local_wandb)).success
    local_wandb_server.faults.add(FaultRule("ArtifactMembershipByName", status=503, times=None))
    reader = _resources(local_wandb, base_dir=str(tmp_path / "reader"))
    started = time.monotonic()
    try:
        result = materialize(
            _assets("stored"), resources=reader, selection=["echo"], raise_on_error=False
        )
    finally:
        local_wandb_server.faults.clear()
    assert not result.success
    assert _error_of(result) == (
        "dagster_wandb_v2.errors.WandbArtifactsIOManagerError: asset 'echo', input 'payload': "
        f"could not read W&B artifact '{local_wandb.path('payload:latest')}' (use_artifact): "
        + GRAPHQL_GAVE_UP.format(base_url=local_wandb.base_url)
    )
    assert time.monotonic() - started < 30
    run = local_wandb.api().run(f"{local_wandb.entity}/{local_wandb.project}/{result.run_id}")
    assert run.state == "failed"


def test_persistent_fault_on_a_download_is_retried_as_bounded_then_named(
    local_wandb: LocalWandbProject, local_wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    """The payload's download retries as the SDK's file downloads do (on 5xx), bounded by
    the resource's ``max_retries``: 1 + 2 attempts, then an error naming the asset, the
    artifact and the answer."""
    assert materialize(_assets("stored")[:1], resources=_resources(local_wandb)).success
    local_wandb_server.faults.add(FaultRule("download", status=503, times=None))
    reader = _resources(local_wandb, base_dir=str(tmp_path / "reader"))
    since = local_wandb_server.request_count
    try:
        result = materialize(
            _assets("stored"), resources=reader, selection=["echo"], raise_on_error=False
        )
    finally:
        local_wandb_server.faults.clear()
    assert not result.success
    assert _failures(local_wandb_server, since) == {"download": 1 + FAIL_FAST["max_retries"]}
    assert _error_of(result).startswith(
        "dagster_wandb_v2.errors.WandbArtifactsIOManagerError: asset 'echo', input 'payload': "
        "could not download 'output.pickle' of W&B artifact 'payload:latest': "
        "W&B answered HTTP 503"
    )


# --- a step process killed mid-upload ------------------------------------------------------


def test_step_killed_mid_upload_leaves_the_previous_version_and_the_next_run_succeeds(
    local_wandb: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    resources = _resources(local_wandb)
    assert materialize(_assets("first")[:1], resources=resources).success
    since = local_wandb_server.request_count
    uploads_started: list[float] = []
    take = local_wandb_server.faults.take

    def watching_take(route: str, operation: str | None) -> Any:
        if route == "upload" and any(
            record.operation == "CreateArtifactFiles"
            for record in local_wandb_server.requests_since(since)
        ):
            uploads_started.append(time.monotonic())
        return take(route, operation)

    monkeypatch.setattr(local_wandb_server.faults, "take", watching_take)
    local_wandb_server.faults.delay("upload", seconds=15)
    # Its own wandb-core (not this process's, whose address WANDB_SERVICE shares with
    # children): a killed step process takes its uploads down with it.
    environment = {
        **{key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"},
        "RELIABILITY_PROJECT": local_wandb.project,
        "RELIABILITY_STORAGE": str(local_wandb.storage_dir),
        "RELIABILITY_VALUE": "second",
        "RELIABILITY_REPEAT": "100000",
    }
    step = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.reliability_pipeline"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not uploads_started and step.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert uploads_started, "the step never started uploading its artifact"
        assert step.poll() is None, "the step ended before it could be killed"
        os.kill(step.pid, signal.SIGKILL)
    finally:
        if step.poll() is None:
            step.kill()
        step.wait()
        local_wandb_server.faults.clear()
    assert step.returncode == -signal.SIGKILL
    assert local_wandb.api().artifact(local_wandb.path("payload:latest")).version == "v0"
    assert _versions(local_wandb) == ["v0"]
    assert _stored_value(local_wandb, "v0", tmp_path) == "first"
    killed_runs = [
        run
        for run in local_wandb.api().runs(f"{local_wandb.entity}/{local_wandb.project}")
        if run.state != "finished"
    ]
    assert len(killed_runs) == 1  # the killed step's run never claims success

    # The previous version is readable through the IO manager, and the next run succeeds.
    reader = _resources(local_wandb, base_dir=str(tmp_path / "reader"))
    assert (
        materialize(_assets("?"), resources=reader, selection=["echo"]).output_for_node("echo")
        == "first"
    )
    result = materialize(_assets("third"), resources=resources)
    assert result.success
    assert result.output_for_node("echo") == "third"
    assert _versions(local_wandb) == ["v0", "v1"]
    assert _stored_value(local_wandb, "latest", tmp_path) == "third"
