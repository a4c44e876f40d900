"""The state of the IO manager's W&B runs is the final outcome of the steps they served.

Through the real wandb SDK against the local server: a step whose first attempt fails to
log its artifact and whose Dagster ``RetryPolicy`` retry succeeds leaves its W&B run
``finished``; one whose every attempt fails leaves it ``failed``; with either executor, with
another step sharing the run, and when a failed Dagster run is re-executed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    ReexecutionOptions,
    execute_job,
    reconstructable,
)

from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject
from dagster_wandb_v2.testing.server import FaultRule, LocalWandbServer
from tests.integration import retry_pipeline

JOBS = {
    "in_process": retry_pipeline.in_process_job,
    "multiprocess": retry_pipeline.multiprocess_job,
}


@pytest.fixture
def environment(
    local_wandb: LocalWandbProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> LocalWandbProject:
    monkeypatch.setenv("RETRY_PROJECT", local_wandb.project)
    monkeypatch.setenv("RETRY_STORAGE", str(tmp_path / "storage"))
    monkeypatch.setenv("RETRY_RUN_ID", "")
    (tmp_path / "instance").mkdir()
    return local_wandb


def _execute(
    executor: str, instance: DagsterInstance, server: LocalWandbServer, **options: Any
) -> Any:
    """Run the job with ``CreateArtifact`` refused until a retry clears the faults."""
    server.faults.add(FaultRule("CreateArtifact", status=503, times=None))
    try:
        return execute_job(reconstructable(JOBS[executor]), instance=instance, **options)
    finally:
        server.faults.clear()


def _states(project: LocalWandbProject) -> dict[str, str]:
    """W&B run name -> state, for every run of the project."""
    runs = project.api().runs(f"{project.entity}/{project.project}")
    return {str(run.name): str(run.state) for run in runs}


def _logged_by(project: LocalWandbProject, artifact: str) -> str:
    return str(project.api().artifact(project.path(f"{artifact}:latest")).logged_by().state)


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_step_retried_after_a_failed_write_leaves_its_run_finished(
    environment: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    executor: str,
) -> None:
    monkeypatch.setenv("RETRY_HEALS", "1")
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        result = _execute(executor, instance, local_wandb_server)
        assert result.success
        retried = [
            event.step_key
            for event in instance.all_logs(result.run_id)
            if event.dagster_event and event.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
        ]
    assert retried == ["flaky"]  # the first attempt did fail in handle_output
    # Both steps' artifacts were logged by finished runs: the retried one and the other.
    assert _logged_by(environment, "flaky") == "finished"
    assert _logged_by(environment, "steady") == "finished"
    states = _states(environment)
    assert set(states.values()) == {"finished"}, states
    expected_runs = 1 if executor == "in_process" else 2  # one per step under multiprocess
    assert len(states) == expected_runs, states


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_step_whose_every_attempt_fails_leaves_its_run_failed(
    environment: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    executor: str,
) -> None:
    monkeypatch.setenv("RETRY_HEALS", "0")
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        result = _execute(executor, instance, local_wandb_server, raise_on_error=False)
        assert not result.success
        failed = [event.step_key for event in result.all_events if event.is_step_failure]
    assert failed == ["flaky"]
    states = _states(environment)
    assert list(states.values()) == ["failed"], states  # steady never ran: no run of its own


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_reexecuting_a_failed_run_on_its_w_and_b_run_leaves_it_finished(
    environment: LocalWandbProject,
    local_wandb_server: LocalWandbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    executor: str,
) -> None:
    # A fixed W&B run id: the re-execution resumes the W&B run the failed attempt left.
    run_id = f"training-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("RETRY_RUN_ID", run_id)
    monkeypatch.setenv("RETRY_HEALS", "0")
    with DagsterInstance.local_temp(str(tmp_path / "instance")) as instance:
        failed = _execute(executor, instance, local_wandb_server, raise_on_error=False)
        assert not failed.success
        assert set(_states(environment).values()) == {"failed"}
        result = execute_job(
            reconstructable(JOBS[executor]),
            instance=instance,
            reexecution_options=ReexecutionOptions.from_failure(failed.run_id, instance),
        )
        assert result.success
        assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
    assert _logged_by(environment, "flaky") == "finished"
    assert _logged_by(environment, "steady") == "finished"
    states = _states(environment)
    assert set(states.values()) == {"finished"}, states
