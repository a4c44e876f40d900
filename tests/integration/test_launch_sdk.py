"""W&B Launch end to end on the local server: the real wandb launch functions and agent.

A Dagster op enqueues a W&B Launch job (``run_launch_job``); a ``run_launch_agent`` op,
bounded by ``stop_after_jobs``, runs it with the ``local-process`` resource: a Python
subprocess whose ``WANDB_BASE_URL`` is the local server. The launched W&B run logs an
artifact which a downstream Dagster asset reads through the IO manager. Failures (a job
that fails, an agent stopped mid-job, a missing queue, a wrong entity) end with a clear
error in Dagster, the W&B run failed and no process left running.

wandb's agent polls every 10 s; the tests shorten that to keep them quick.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb
from dagster import AssetIn, AssetSpec, RunConfig, asset, job, materialize

from dagster_wandb_v2 import WandbResource
from dagster_wandb_v2.launch import (
    LaunchAgentConfig,
    LaunchJobConfig,
    run_launch_agent,
    run_launch_job,
)
from dagster_wandb_v2.testing.pytest_plugin import LocalWandbProject

IO = "wandb_artifacts_manager"

TRAIN = """
import os, pickle, sys, time
import wandb

with wandb.init() as run:
    lr = run.config.get("lr", 0.1)
    run.log({"loss": 1 - lr})
    artifact = wandb.Artifact("trained_model", type="model")
    with artifact.new_file("output.pickle", "wb") as file:
        pickle.dump(
            {
                "lr": lr,
                "base_url": os.environ["WANDB_BASE_URL"],
            },
            file,
        )
    run.log_artifact(artifact)
    if run.config.get("sleep"):
        time.sleep(run.config["sleep"])
    if run.config.get("fail"):
        raise SystemExit(3)
"""


@pytest.fixture
def launch_setup(
    local_wandb: LocalWandbProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """A ``local-process`` queue and a code job ``train`` made with ``wandb job create``."""
    from wandb.sdk.launch.agent import agent as agent_module
    from wandb.sdk.launch.create_job import create_job

    monkeypatch.setattr(agent_module, "AGENT_POLLING_INTERVAL", 0.5)
    monkeypatch.setattr(agent_module, "RUN_INFO_GRACE_PERIOD", 0.5)  # wait for a run: 60 s
    # the job's entry point is ``python train.py``: this interpreter, which has wandb
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    queue = f"dagster-{uuid.uuid4().hex[:8]}"
    api = local_wandb.api()
    api.create_run_queue(queue, "local-process", entity=local_wandb.entity)
    code = tmp_path / "job"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (code / "requirements.txt").write_text("wandb\n")
    made = create_job(
        str(code),
        "code",
        entity=local_wandb.entity,
        project=local_wandb.project,
        name="train",
        entrypoint="python train.py",
    )
    assert made is not None
    yield {"queue": queue, "job": local_wandb.path("train:latest")}
    assert _job_processes() == []  # nothing launched is left running


def _job_processes() -> list[str]:
    """Command lines of this user's live processes running a job's ``train.py`` (orphans
    included: every process in ``/proc``, not only this one's descendants)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "train.py" in cmdline and state != "Z" and _launched_here(entry):
            found.append(cmdline)
    return found


def _launched_here(pid: str) -> bool:
    """Whether the process was launched against this session's local server."""
    try:
        variables = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"WANDB_BASE_URL={os.environ.get('WANDB_BASE_URL')}".encode() in variables


@job
def agent_job() -> None:
    run_launch_agent()


@job
def launch_job() -> None:
    run_launch_job.alias("my_launched_job")()


def in_thread(call: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``call`` in a thread; the returned function joins it and gives its result."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = call()
        except BaseException as error:  # re-raised by the joiner
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def join() -> Any:
        thread.join(timeout=240)
        assert not thread.is_alive(), "the op did not end"
        if "error" in box:
            raise box["error"]
        return box["result"]

    return join


def _failure(result: Any) -> str:
    """The step's error message, with the messages of its causes."""
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error, messages = event.event_specific_data.error, []
    while error is not None:
        messages.append(str(error.message))
        error = error.cause
    return "\n".join(messages)


def _run_state(local_wandb: LocalWandbProject, run_id: str) -> str:
    return str(local_wandb.api().run(local_wandb.path(run_id)).state)


def test_queued_job_runs_on_a_local_agent_and_feeds_a_downstream_asset(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any]
) -> None:
    resources = local_wandb.resources()
    # the guide's run configuration for the job (entry_point as the guide writes it) ...
    launched = in_thread(
        lambda: launch_job.execute_in_process(
            resources=resources,
            run_config={
                "ops": {
                    "my_launched_job": {
                        "config": {
                            "job": launch_setup["job"],
                            "entry_point": ["python", "train.py"],
                            "queue": launch_setup["queue"],
                            "config": {"overrides": {"run_config": {"lr": 0.3}}},
                        }
                    }
                }
            },
        )
    )
    # ... and the typed Config for the agent, with the guide's keys
    agent = agent_job.execute_in_process(
        resources=resources,
        run_config=RunConfig(
            ops={
                "run_launch_agent": LaunchAgentConfig(
                    max_jobs=1, queues=[launch_setup["queue"]], stop_after_jobs=1
                )
            }
        ),
    )
    assert agent.success
    result = launched()
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    step_metadata = output.event_specific_data.metadata
    run_id = step_metadata["wandb_run_id"].value
    assert step_metadata["wandb_run_state"].value == "finished"
    assert step_metadata["wandb_launch_queue"].value == launch_setup["queue"]
    run = local_wandb.api().run(local_wandb.path(run_id))
    assert run.state == "finished"
    assert run.config["lr"] == 0.3  # the job's run configuration override reached the run
    assert [a.name for a in run.logged_artifacts()] == ["trained_model:v0"]

    trained_model = AssetSpec("trained_model").with_io_manager_key(IO)

    @asset(ins={"trained_model": AssetIn()})
    def model_summary(trained_model: dict[str, Any]) -> dict[str, Any]:
        return trained_model

    read = materialize([trained_model, model_summary], resources=resources)
    summary = read.output_for_node("model_summary")
    assert summary["lr"] == 0.3
    # the launched process was pointed at the local server, nowhere else
    assert summary["base_url"] == local_wandb.base_url
    (used_by,) = local_wandb.api().artifact(local_wandb.path("trained_model:v0")).used_by()
    assert used_by.id == read.run_id


def test_a_failing_job_fails_the_op_and_its_wandb_run(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any]
) -> None:
    resources = local_wandb.resources()
    config = LaunchJobConfig(
        job=launch_setup["job"],
        queue=launch_setup["queue"],
        config={"overrides": {"run_config": {"fail": True}}},
    )
    launched = in_thread(
        lambda: launch_job.execute_in_process(
            resources=resources,
            run_config=RunConfig(ops={"my_launched_job": config}),
            raise_on_error=False,
        )
    )
    agent = agent_job.execute_in_process(
        resources=resources,
        run_config={
            "ops": {
                "run_launch_agent": {
                    "config": {"queues": [launch_setup["queue"]], "stop_after_jobs": 1}
                }
            }
        },
    )
    assert agent.success  # the agent did its work: the job itself failed
    result = launched()
    assert not result.success
    message = _failure(result)
    assert "the W&B run ended 'failed'" in message
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    run_id = event.event_specific_data.user_failure_data.metadata["wandb_run_id"].value
    assert f"W&B run {local_wandb.path(run_id)}" in message
    assert _run_state(local_wandb, run_id) == "failed"


def test_a_job_that_fails_before_its_run_starts_fails_the_op_with_the_agents_message(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any]
) -> None:
    """wandb's ``QueuedRun.wait_until_finished`` would wait forever here: no run exists."""
    resources = local_wandb.resources()
    config = LaunchJobConfig(
        job=launch_setup["job"],
        queue=launch_setup["queue"],
        entry_point=["python", "-c", "raise SystemExit(4)"],
    )
    launched = in_thread(
        lambda: launch_job.execute_in_process(
            resources=resources,
            run_config=RunConfig(ops={"my_launched_job": config}),
            raise_on_error=False,
        )
    )
    agent = agent_job.execute_in_process(
        resources=resources,
        run_config=RunConfig(
            ops={
                "run_launch_agent": LaunchAgentConfig(
                    queues=[launch_setup["queue"]], stop_after_jobs=1
                )
            }
        ),
    )
    assert agent.success
    result = launched()
    assert not result.success
    assert "failed: The submitted run was not successfully started (stage: run)" in _failure(result)


def test_an_agent_stopped_mid_job_stops_the_job_and_fails_its_run(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any]
) -> None:
    resources = local_wandb.resources()
    config = LaunchJobConfig(
        job=launch_setup["job"],
        queue=launch_setup["queue"],
        config={"overrides": {"run_config": {"sleep": 120}}},
        run_id=f"stopped{uuid.uuid4().hex[:6]}",
    )
    launched = in_thread(
        lambda: launch_job.execute_in_process(
            resources=resources,
            run_config=RunConfig(ops={"my_launched_job": config}),
            raise_on_error=False,
        )
    )
    agent = in_thread(
        lambda: agent_job.execute_in_process(
            resources=resources,
            run_config=RunConfig(
                ops={"run_launch_agent": LaunchAgentConfig(queues=[launch_setup["queue"]])}
            ),
            raise_on_error=False,
        )
    )
    api = local_wandb.api()
    deadline = time.monotonic() + 120
    while not _job_processes() or _maybe_state(local_wandb, config.run_id) != "running":
        assert time.monotonic() < deadline, "the launched run did not start"
        time.sleep(0.5)
    _stop_agents(local_wandb, launch_setup["queue"])  # W&B's "stop agent"

    agent_result = agent()
    assert not agent_result.success
    assert "agent stopped while 1 job(s) were running" in _failure(agent_result)
    assert f"W&B runs: {local_wandb.path(str(config.run_id))} (failed)" in _failure(agent_result)
    result = launched()
    assert not result.success
    assert "the launch agent was stopped while the job was running" in _failure(result)
    assert str(api.run(local_wandb.path(str(config.run_id))).state) == "failed"


def _maybe_state(local_wandb: LocalWandbProject, run_id: str | None) -> str | None:
    try:
        return _run_state(local_wandb, str(run_id))
    except (ValueError, wandb.errors.CommError):
        return None


def _stop_agents(local_wandb: LocalWandbProject, queue: str) -> None:
    """Set ``stopPolling`` on the agents polling ``queue``, as W&B's UI does."""
    from wandb.sdk.launch.api import LaunchApi

    from dagster_wandb_v2.testing.server.launch import LAUNCH_DEFAULT_PROJECT

    api = LaunchApi(api_key=local_wandb.api_key, overrides={"base_url": local_wandb.base_url})
    (queue_row,) = [
        q
        for q in api.get_project_run_queues(local_wandb.entity, LAUNCH_DEFAULT_PROJECT)
        if q["name"] == queue
    ]
    from wandb.sdk.launch.agent.agent import LaunchAgent

    agent_id = LaunchAgent._instance._id  # type: ignore[union-attr]
    assert queue_row["id"]
    api._service_api.execute_graphql(
        "mutation S($id: ID!) { updateLaunchAgent(input: {launchAgentId: $id, "
        "stopPolling: true}) { success } }",
        {"id": agent_id},
    )


@pytest.mark.parametrize("op", ["agent", "job"])
def test_a_missing_queue_is_named_with_the_queues_that_exist(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any], op: str
) -> None:
    resources = local_wandb.resources()
    if op == "agent":
        result = agent_job.execute_in_process(
            resources=resources,
            run_config={"ops": {"run_launch_agent": {"config": {"queues": ["nope"]}}}},
            raise_on_error=False,
        )
    else:
        result = launch_job.execute_in_process(
            resources=resources,
            run_config=RunConfig(
                ops={"my_launched_job": LaunchJobConfig(job=launch_setup["job"], queue="nope")}
            ),
            raise_on_error=False,
        )
    assert not result.success
    message = _failure(result)
    assert f"launch queue(s) ['nope'] not found in W&B entity '{local_wandb.entity}'" in message
    assert launch_setup["queue"] in message


@pytest.mark.parametrize("op", ["agent", "job"])
def test_a_wrong_entity_is_a_clear_error(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any], op: str
) -> None:
    resources = {
        **local_wandb.resources(),
        "wandb": WandbResource(
            api_key=local_wandb.api_key,
            host=local_wandb.base_url,
            entity="not-my-team",
            project=local_wandb.project,
        ),
    }
    config: dict[str, Any] = {"queues": [launch_setup["queue"]]}
    job_def = agent_job
    if op == "job":
        config = {"job": launch_setup["job"], "queue": launch_setup["queue"]}
        job_def = launch_job
    name = "run_launch_agent" if op == "agent" else "my_launched_job"
    result = job_def.execute_in_process(
        resources=resources,
        run_config={"ops": {name: {"config": config}}},
        raise_on_error=False,
    )
    assert not result.success
    assert "cannot list the launch queues of W&B entity 'not-my-team'" in _failure(result)


def test_the_guides_legacy_keys_fail_before_anything_is_queued(
    local_wandb: LocalWandbProject, launch_setup: dict[str, Any]
) -> None:
    result = launch_job.execute_in_process(
        resources=local_wandb.resources(),
        run_config={
            "ops": {
                "my_launched_job": {
                    "config": {
                        "uri": "https://github.com/wandb/example-dagster-integration-with-launch",
                        "parameters": {"epochs": 3},
                        "queue": launch_setup["queue"],
                    }
                }
            }
        },
        raise_on_error=False,
    )
    assert not result.success
    message = _failure(result)
    assert "uri: W&B Launch no longer runs Git or W&B run URIs" in message
    assert "parameters: not supported by W&B Launch anymore" in message
    queue = local_wandb.api().run_queue(local_wandb.entity, launch_setup["queue"])
    assert queue.items == []
