"""The Launch ops against stand-ins autospecced from the real wandb launch functions.

Every stand-in is ``create_autospec`` of the installed wandb function or class, so a call
with an argument wandb does not take, or a function used as a module (dagster issue
24742: ``launch.create_and_run_agent`` where ``launch`` is a function), fails here as it
would against W&B.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest.mock import MagicMock, create_autospec

import pytest
import wandb.sdk.launch as wandb_launch
from dagster import DagsterInvalidConfigError, job
from wandb.apis.public import QueuedRun, Run
from wandb.sdk.launch.agent.config import AgentConfig
from wandb.sdk.launch.api import LaunchApi
from wandb.sdk.launch.runner.abstract import AbstractRun, Status
from wandb.sdk.lib import wbauth

import dagster_wandb_v2
from dagster_wandb_v2 import WandbResource
from dagster_wandb_v2.launch import (
    JobOutcome,
    LaunchAgentConfig,
    LaunchBackend,
    LaunchJobConfig,
    QueuedJob,
    make_launch_api,
    run_launch_agent,
    run_launch_job,
    use_launch_backend,
    wait_for_queued_run,
    wandb_credentials,
)
from dagster_wandb_v2.testing.server import LocalWandbServer

HOST = "http://127.0.0.1:9"
API_KEY = "k" * 40
OTHER_KEY = "o" * 40
DEFAULT_ENTITY = "key-default-entity"
QUEUES = ("my_dagster_queue", "q", "a", "b")


# --- the fake backend ---------------------------------------------------------------------


@dataclass
class FakeLaunch:
    """Autospecced wandb launch functions, and what they saw and returned."""

    backend: LaunchBackend
    launch: MagicMock
    launch_add: MagicMock
    create_and_run_agent: MagicMock
    make_api: MagicMock
    wait_for_job: MagicMock
    api: MagicMock
    queued_run: MagicMock
    finished_run: MagicMock
    local_run: MagicMock
    env_during_calls: list[dict[str, str | None]]

    def calls(self) -> int:
        return sum(
            mock.call_count
            for mock in (self.launch, self.launch_add, self.create_and_run_agent, self.make_api)
        )


def _snapshot_env() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ("WANDB_API_KEY", "WANDB_BASE_URL")}


def fake_launch(run_state: str = "finished", local_state: str = "finished") -> FakeLaunch:
    env_during_calls: list[dict[str, str | None]] = []

    api = create_autospec(LaunchApi, instance=True)
    api.default_entity = DEFAULT_ENTITY
    api.get_project_run_queues.return_value = [
        {"id": f"queue-{name}", "name": name, "createdBy": DEFAULT_ENTITY, "access": "PROJECT"}
        for name in QUEUES
    ]

    finished_run = create_autospec(Run, instance=True)
    finished_run.id = "will-be-set"
    finished_run.state = run_state
    finished_run.url = "will-be-set"

    queued_run = create_autospec(QueuedRun, instance=True)
    queued_run.wait_until_finished.return_value = finished_run

    local_run = create_autospec(AbstractRun, instance=True)
    local_run.get_status.return_value = Status(local_state)  # type: ignore[arg-type]

    def on_launch_add(**kwargs: Any) -> MagicMock:
        env_during_calls.append(_snapshot_env())
        entity = kwargs["entity"] or DEFAULT_ENTITY
        queued_run.entity = entity
        queued_run.project = kwargs["project"]
        queued_run.queue_name = kwargs["queue_name"]
        queued_run.id = "UnVuUXVldWVJdGVtOjE="
        finished_run.id = kwargs["run_id"]
        finished_run.url = (
            f"http://127.0.0.1:9/{entity}/{kwargs['project']}/runs/{kwargs['run_id']}"
        )
        return queued_run

    def record_env(*args: Any, **kwargs: Any) -> Any:
        env_during_calls.append(_snapshot_env())
        return None

    def on_launch(**kwargs: Any) -> MagicMock:
        record_env()
        return local_run

    launch = create_autospec(wandb_launch.launch, side_effect=on_launch)
    launch_add = create_autospec(wandb_launch.launch_add, side_effect=on_launch_add)
    agent = create_autospec(wandb_launch.create_and_run_agent, side_effect=record_env)
    make_api = create_autospec(make_launch_api, return_value=api)
    ended = None if run_state == "finished" else f"the W&B run ended '{run_state}'"
    wait_for_job = create_autospec(wait_for_queued_run, return_value=JobOutcome(run_state, ended))
    backend = LaunchBackend(
        launch=launch,
        launch_add=launch_add,
        create_and_run_agent=agent,
        make_api=make_api,
        wait_for_job=wait_for_job,
    )
    return FakeLaunch(
        backend=backend,
        launch=launch,
        launch_add=launch_add,
        create_and_run_agent=agent,
        make_api=make_api,
        wait_for_job=wait_for_job,
        api=api,
        queued_run=queued_run,
        finished_run=finished_run,
        local_run=local_run,
        env_during_calls=env_during_calls,
    )


@pytest.fixture
def fake() -> Iterator[FakeLaunch]:
    backend = fake_launch()
    with use_launch_backend(backend.backend):
        yield backend


@pytest.fixture
def wandb_session() -> Iterator[None]:
    """W&B's process-wide session credentials, put back as they were after the test."""
    from dagster_wandb_v2.launch.ops import _clear_session_credentials

    restore = _clear_session_credentials()
    try:
        yield
    finally:
        restore()


def resource(**overrides: Any) -> WandbResource:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "host": HOST,
        "entity": "my_entity",
        "project": "my_project",
    }
    settings.update(overrides)
    return WandbResource(**settings)


@job
def agent_job() -> None:
    run_launch_agent()


@job
def launch_job() -> None:
    run_launch_job.alias("my_launched_job")()


def run_agent(config: dict[str, Any], **resource_overrides: Any) -> Any:
    return agent_job.execute_in_process(
        run_config={"ops": {"run_launch_agent": {"config": config}}},
        resources={"wandb": resource(**resource_overrides)},
        raise_on_error=False,
    )


def run_job(config: dict[str, Any], **resource_overrides: Any) -> Any:
    return launch_job.execute_in_process(
        run_config={"ops": {"my_launched_job": {"config": config}}},
        resources={"wandb": resource(**resource_overrides)},
        raise_on_error=False,
    )


def output_metadata(result: Any) -> dict[str, Any]:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def failure(result: Any) -> Any:
    """The error the op raised (Dagster wraps errors other than ``Failure``)."""
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = event.event_specific_data.error
    return error.cause or error


def bind(real: Any, call: Any) -> inspect.BoundArguments:
    """The recorded call bound to the real wandb signature (TypeError when it does not fit)."""
    return inspect.signature(real).bind(*call.args, **call.kwargs)


# --- wiring to the real wandb -------------------------------------------------------------


def test_backend_from_wandb_is_the_real_functions() -> None:
    backend = LaunchBackend.from_wandb()
    assert backend.launch is wandb_launch.launch
    assert backend.launch_add is wandb_launch.launch_add
    assert backend.create_and_run_agent is wandb_launch.create_and_run_agent
    for function in (backend.launch, backend.launch_add, backend.create_and_run_agent):
        assert inspect.isfunction(function)


def test_make_launch_api_authenticates_without_global_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import wandb.sdk.launch.api as launch_api_module

    constructor = create_autospec(LaunchApi)
    monkeypatch.setattr(launch_api_module, "LaunchApi", constructor)
    assert make_launch_api(API_KEY, HOST) is constructor.return_value
    constructor.assert_called_once_with(api_key=API_KEY, overrides={"base_url": HOST})


def test_the_legacy_calls_fail_against_the_fake(fake: FakeLaunch) -> None:
    """What dagster-wandb 0.29 did: ``launch.create_and_run_agent``, ``launch.run``."""
    with pytest.raises(AttributeError):
        fake.launch.create_and_run_agent  # noqa: B018
    with pytest.raises(AttributeError):
        fake.launch.run  # noqa: B018
    legacy_job_config = {"entity": "e", "project": "p", "queue": "q", "uri": "https://x"}
    with pytest.raises(TypeError):
        fake.launch_add(**legacy_job_config)  # the legacy op passed `queue`, not `queue_name`
    with pytest.raises(TypeError):
        fake.launch(config={})  # no api


# --- agent ----------------------------------------------------------------------------------


def test_agent_runs_with_the_resource_entity(fake: FakeLaunch) -> None:
    result = run_agent({"max_jobs": -1, "queues": ["my_dagster_queue"]})
    assert result.success
    fake.make_api.assert_called_once_with(API_KEY, HOST)
    (call,) = fake.create_and_run_agent.call_args_list
    bound = bind(wandb_launch.create_and_run_agent, call)
    # the resource's API object, seen through the guard that can stop the agent
    given = bound.arguments["api"]
    assert given.default_entity == fake.api.default_entity
    given.update_launch_agent_status("agent-id", "POLLING")
    fake.api.update_launch_agent_status.assert_called_once_with("agent-id", "POLLING")
    fake.api.get_project_run_queues.assert_called_once_with("my_entity", "model-registry")
    config = bound.arguments["config"]
    assert config == {"entity": "my_entity", "max_jobs": -1, "queues": ["my_dagster_queue"]}
    AgentConfig(**config)  # what create_and_run_agent validates first


def test_unset_host_entity_and_project_come_from_the_wandb_environment(
    fake: FakeLaunch, monkeypatch: pytest.MonkeyPatch
) -> None:
    dedicated = "http://127.0.0.1:8"
    monkeypatch.setenv("WANDB_BASE_URL", dedicated)
    monkeypatch.setenv("WANDB_ENTITY", "env_entity")
    monkeypatch.setenv("WANDB_PROJECT", "env_project")
    result = run_agent({"queues": ["q"]}, host=None, entity=None, project=None)
    assert result.success
    fake.make_api.assert_called_once_with(API_KEY, dedicated)  # not the public cloud
    (call,) = fake.create_and_run_agent.call_args_list
    assert bind(wandb_launch.create_and_run_agent, call).arguments["config"]["entity"] == (
        "env_entity"
    )


def test_agent_config_covers_the_wandb_agent_configuration(fake: FakeLaunch) -> None:
    full = {
        "queues": ["a", "b"],
        "max_jobs": 4,
        "max_schedulers": 2,
        "secure_mode": True,
        "verbosity": 1,
        "stopped_run_timeout": 30,
        "environment": {"type": "aws", "region": "us-east-1"},
        "registry": {"type": "ecr", "uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/r"},
        "builder": {
            "type": "kaniko",
            "build-context-store": "s3://my-bucket/context",
            "build-job-name": "my-build",
        },
    }
    assert run_agent(full).success
    config = fake.create_and_run_agent.call_args.kwargs["config"]
    assert config == {"entity": "my_entity", **full}
    parsed = AgentConfig(**config)
    assert parsed.builder is not None
    assert parsed.builder.build_context_store == "s3://my-bucket/context"
    # every key of W&B's agent configuration but `entity` (the resource's) is a field,
    # plus the one the op acts on itself (never sent to W&B)
    assert set(AgentConfig.model_fields) - {"entity"} == set(LaunchAgentConfig.model_fields) - {
        "stop_after_jobs"
    }
    assert "stop_after_jobs" not in config


def test_agent_without_entity_uses_the_key_default_entity(fake: FakeLaunch) -> None:
    assert run_agent({}, entity=None).success
    config = fake.create_and_run_agent.call_args.kwargs["config"]
    assert config == {"entity": DEFAULT_ENTITY}  # unset keys keep W&B's defaults
    AgentConfig(**config)


def test_agent_without_any_entity_is_an_error() -> None:
    fake = fake_launch()
    fake.api.default_entity = None
    with use_launch_backend(fake.backend):
        result = run_agent({}, entity=None)
    assert not result.success
    assert "no default W&B entity; set WandbResource.entity" in failure(result).message
    assert fake.create_and_run_agent.call_count == 0


def test_legacy_agent_config_with_project_is_what_wandb_rejects() -> None:
    """The legacy op also put `project` in the agent config: W&B refuses it."""
    with pytest.raises(ValueError, match="project"):
        AgentConfig(entity="e", project="p", max_jobs=1)


# --- job, with a queue --------------------------------------------------------------------


def test_job_with_queue_enqueues_and_waits(fake: FakeLaunch) -> None:
    config = {
        "job": "my_entity/my_project/train:latest",
        "entry_point": ["python", "train.py"],
        "queue": "my_dagster_queue",
        "git_version": "main",
        "name": "nightly",
        "resource_args": {"kubernetes": {"namespace": "ml"}},
        "config": {"overrides": {"run_config": {"epochs": 3}}},
        "priority": 1,
        "template_variables": {"gpus": 2},
        "project_queue": "model-registry",
    }
    result = run_job(config)
    assert result.success
    (call,) = fake.launch_add.call_args_list
    args = bind(wandb_launch.launch_add, call).arguments
    run_id = args["run_id"]
    assert len(run_id) == 8
    assert args == {
        "job": "my_entity/my_project/train:latest",
        "docker_image": None,
        "entry_point": ["python", "train.py"],
        "version": "main",
        "name": "nightly",
        "run_id": run_id,
        "resource": None,
        "resource_args": {"kubernetes": {"namespace": "ml"}},
        "config": {"overrides": {"run_config": {"epochs": 3}}},
        "repository": None,
        "entity": "my_entity",
        "project": "my_project",
        "queue_name": "my_dagster_queue",
        "project_queue": "model-registry",
        "priority": 1,
        "template_variables": {"gpus": 2},
    }
    fake.wait_for_job.assert_called_once_with(
        fake.api,
        QueuedJob(
            entity="my_entity",
            project="my_project",
            queue="my_dagster_queue",
            project_queue="model-registry",
            item_id="UnVuUXVldWVJdGVtOjE=",
            run_id=run_id,
        ),
    )
    # the queue is checked first, with the resource's key
    fake.make_api.assert_called_once_with(API_KEY, HOST)
    fake.api.get_project_run_queues.assert_called_once_with("my_entity", "model-registry")
    metadata = output_metadata(result)
    assert metadata["wandb_run_url"] == f"{HOST}/my_entity/my_project/runs/{run_id}"
    assert metadata["wandb_run_state"] == "finished"
    assert metadata["wandb_run_path"] == f"my_entity/my_project/{run_id}"
    assert metadata["wandb_launch_queue"] == "my_dagster_queue"
    assert metadata["wandb_run_queue_item_id"] == "UnVuUXVldWVJdGVtOjE="


def test_job_with_queue_async_does_not_wait(fake: FakeLaunch) -> None:
    result = run_job(
        {"docker_image": "me/train:1", "queue": "q", "synchronous": False, "run_id": "abc123"}
    )
    assert result.success
    assert fake.launch_add.call_args.kwargs["run_id"] == "abc123"
    assert fake.wait_for_job.call_count == 0
    metadata = output_metadata(result)
    # the launched run takes the given id, so its URL is known before it starts
    assert metadata["wandb_run_url"] == "http://127.0.0.1:9/my_entity/my_project/runs/abc123"
    assert "wandb_run_state" not in metadata


def test_job_with_queue_fails_when_the_run_failed() -> None:
    fake = fake_launch(run_state="crashed")
    with use_launch_backend(fake.backend):
        result = run_job({"job": "e/p/j:latest", "queue": "q"})
    assert not result.success
    assert "failed: the W&B run ended 'crashed'" in failure(result).message
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    metadata = event.event_specific_data.user_failure_data.metadata
    assert metadata["wandb_run_url"].value == fake.finished_run.url
    assert metadata["wandb_run_state"].value == "crashed"


def test_job_without_entity_lets_wandb_use_the_key_default(fake: FakeLaunch) -> None:
    result = run_job({"job": "e/p/j:latest", "queue": "q"}, entity=None)
    assert result.success
    assert fake.launch_add.call_args.kwargs["entity"] is None
    assert output_metadata(result)["wandb_entity"] == DEFAULT_ENTITY


# --- job, without a queue ------------------------------------------------------------------


def test_job_without_queue_runs_here(fake: FakeLaunch) -> None:
    result = run_job({"job": "e/p/j:latest", "resource": "local-process", "version": "v1"})
    assert result.success
    assert fake.launch_add.call_count == 0
    fake.make_api.assert_called_once_with(API_KEY, HOST)
    (call,) = fake.launch.call_args_list
    args = bind(wandb_launch.launch, call).arguments
    assert args["api"] is fake.api
    assert args["synchronous"] is True
    assert args["resource"] == "local-process"
    assert args["version"] == "v1"  # the legacy key of git_version
    assert (args["entity"], args["project"]) == ("my_entity", "my_project")
    fake.local_run.get_status.assert_awaited_once()
    metadata = output_metadata(result)
    assert metadata["wandb_run_state"] == "finished"
    assert metadata["wandb_run_url"] == f"{HOST}/my_entity/my_project/runs/{args['run_id']}"


def test_job_without_queue_fails_when_the_run_failed() -> None:
    fake = fake_launch(local_state="failed")
    with use_launch_backend(fake.backend):
        result = run_job({"docker_image": "me/train:1"})
    assert not result.success
    assert "ended in state 'failed'" in failure(result).message


def test_job_without_queue_async_does_not_wait(fake: FakeLaunch) -> None:
    assert run_job({"docker_image": "me/train:1", "synchronous": False}).success
    assert fake.launch.call_args.kwargs["synchronous"] is False
    assert fake.local_run.get_status.await_count == 0


# --- errors before anything is sent -----------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"entity": ""}, ["WandbResource.entity is empty"]),
        ({"project": " "}, ["WandbResource.project is empty"]),
        ({"entity": "", "project": ""}, ["entity is empty", "project is empty"]),
    ],
)
def test_empty_entity_or_project_is_an_error(
    fake: FakeLaunch, overrides: dict[str, str], named: list[str]
) -> None:
    for result in (
        run_agent({}, **overrides),
        run_job({"job": "e/p/j", "queue": "q"}, **overrides),
    ):
        assert not result.success
        message = failure(result).message
        assert "WandbConfigurationError" in failure(result).cls_name
        for text in named:
            assert text in message
    assert fake.calls() == 0


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"uri": "https://github.com/wandb/x", "queue": "q"}, "wandb job create git"),
        ({"job": "e/p/j", "parameters": {"a": 1}}, "parameters: not supported"),
        ({"job": "e/p/j", "cuda": True}, "cuda: not supported"),
        ({"queue": "q"}, "job, docker_image: give exactly one"),
        ({"job": "e/p/j", "docker_image": "i:1"}, "job, docker_image: give exactly one"),
        ({"job": "e/p/j", "priority": 1}, "priority: only used with a queue"),
        ({"job": "e/p/j", "version": "a", "git_version": "b"}, "set only git_version"),
    ],
)
def test_invalid_job_config_is_an_error(
    fake: FakeLaunch, config: dict[str, Any], named: str
) -> None:
    result = run_job(config)
    assert not result.success
    message = failure(result).message
    assert named in message
    assert "op 'my_launched_job' config" in message  # the alias names the op
    assert fake.calls() == 0


def test_unknown_config_key_is_rejected_by_dagster() -> None:
    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "max_job"'):
        run_agent({"max_job": 1})
    with pytest.raises(DagsterInvalidConfigError, match='unexpected config entry "queue_name"'):
        run_job({"job": "e/p/j", "queue_name": "q"})
    with pytest.raises(DagsterInvalidConfigError, match="max_jobs"):
        run_agent({"max_jobs": "many"})
    with pytest.raises(DagsterInvalidConfigError, match="entry_point"):
        run_job({"job": "e/p/j", "entry_point": "python train.py"})


def test_job_config_maps_to_the_real_signatures() -> None:
    """Every keyword the ops pass is a parameter of the installed wandb functions."""
    config = LaunchJobConfig(job="e/p/j", queue="q")
    local = config.launch_kwargs(entity="e", project="p", run_id="r")
    inspect.signature(wandb_launch.launch).bind(api=object(), synchronous=True, **local)
    queued = config.launch_add_kwargs(entity="e", project="p", run_id="r")
    inspect.signature(wandb_launch.launch_add).bind(**queued)


# --- credentials ---------------------------------------------------------------------------


def test_credentials_are_installed_for_the_call_only(
    fake: FakeLaunch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", OTHER_KEY)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    assert run_job({"job": "e/p/j", "queue": "q"}).success
    assert run_agent({}).success
    assert fake.env_during_calls == [{"WANDB_API_KEY": API_KEY, "WANDB_BASE_URL": HOST}] * 2
    assert os.environ["WANDB_API_KEY"] == OTHER_KEY
    assert "WANDB_BASE_URL" not in os.environ


def test_credentials_are_restored_when_the_call_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:1")
    fake = fake_launch()
    fake.launch_add.side_effect = RuntimeError("queue not found")
    with use_launch_backend(fake.backend):
        assert not run_job({"job": "e/p/j", "queue": "q"}).success
    assert os.environ["WANDB_BASE_URL"] == "http://127.0.0.1:1"


@pytest.mark.usefixtures("wandb_session")
def test_session_credentials_of_another_key_do_not_win() -> None:
    """W&B prefers its session credentials to the environment: they are set aside."""
    previous = wbauth.AuthApiKey(host=HOST, api_key=OTHER_KEY)
    wbauth.use_explicit_auth(previous, source="test")
    with wandb_credentials(API_KEY, HOST):
        inside = wbauth.authenticate_session(host=HOST, source="test", prompt=False)
        assert isinstance(inside, wbauth.AuthApiKey)
        assert inside.api_key == API_KEY
    after = wbauth.session_credentials(host=HOST)
    assert isinstance(after, wbauth.AuthApiKey)
    assert after.api_key == OTHER_KEY


@pytest.mark.usefixtures("wandb_session")
def test_the_clients_wandb_builds_itself_use_the_resource_key(
    local_wandb_server: LocalWandbServer,
) -> None:
    """``launch_add`` builds ``LaunchApi()`` and ``public.Api()`` from the process's
    credentials: inside the scope they are the resource's, against a real server."""
    import wandb.apis.public as public

    host, key = local_wandb_server.base_url, local_wandb_server.api_key
    wbauth.use_explicit_auth(wbauth.AuthApiKey(host=host, api_key=OTHER_KEY), source="test")
    with wandb_credentials(key, host):
        assert LaunchApi().api_key == key
        assert public.Api().api_key == key
        assert make_launch_api(key, host).default_entity == local_wandb_server.entity
    after = wbauth.session_credentials(host=host)
    assert isinstance(after, wbauth.AuthApiKey)
    assert after.api_key == OTHER_KEY


@pytest.mark.usefixtures("wandb_session")
@pytest.mark.parametrize("which", ["agent", "job with queue"])
def test_the_real_wandb_calls_reach_the_queue_api(
    local_wandb_server: LocalWandbServer, which: str
) -> None:
    """No stand-in: the real wandb functions take the ops' arguments, authenticate with the
    resource's key (the default entity comes from the server) and reach W&B's run-queue
    API, which answers that the queue does not exist in that entity."""
    overrides = {
        "api_key": local_wandb_server.api_key,
        "host": local_wandb_server.base_url,
        "entity": None,
    }
    if which == "agent":
        result = run_agent({"queues": ["no-such-queue"], "max_jobs": -1}, **overrides)
    else:
        config = {"docker_image": "me/train:1", "queue": "no-such-queue", "synchronous": False}
        result = run_job(config, **overrides)
    assert not result.success
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = event.event_specific_data.error.message
    assert f"W&B entity '{local_wandb_server.entity}'" in message
    assert "does not support operation" not in message


def test_the_api_key_is_never_logged_nor_in_metadata(fake: FakeLaunch) -> None:
    results = [run_job({"job": "e/p/j", "queue": "q"}), run_agent({"queues": ["q"]})]
    for result in results:
        assert result.success
        for event in result.all_events:
            assert API_KEY not in str(event.message or "")
            assert API_KEY not in repr(event.event_specific_data)


# --- import and examples --------------------------------------------------------------------


def test_importing_the_package_does_not_import_wandb_launch() -> None:
    code = (
        "import sys, dagster_wandb_v2, dagster_wandb_v2.launch; "
        "assert 'wandb.sdk.launch' not in sys.modules, 'wandb.sdk.launch imported'; "
        "assert 'dagster_wandb_v2.components' not in sys.modules; "
        "from dagster_wandb_v2 import run_launch_job, run_launch_agent, WandbComponent; "
        "assert 'wandb.sdk.launch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ops_are_exported_from_both_places() -> None:
    assert dagster_wandb_v2.run_launch_job is run_launch_job
    assert dagster_wandb_v2.run_launch_agent is run_launch_agent
    assert {"run_launch_job", "run_launch_agent"} <= set(dagster_wandb_v2.__all__)
    assert run_launch_job.required_resource_keys == {"wandb"}
    assert run_launch_agent.required_resource_keys == {"wandb"}


def test_examples_run_against_the_fake(fake: FakeLaunch, monkeypatch: pytest.MonkeyPatch) -> None:
    from examples import launch as example

    monkeypatch.setenv("WANDB_API_KEY", API_KEY)
    agent = example.run_launch_agent_example.execute_in_process(resources=example.resources)
    assert agent.success
    config = fake.create_and_run_agent.call_args.kwargs["config"]
    assert config == {"entity": example.ENTITY, "max_jobs": -1, "queues": ["my_dagster_queue"]}

    launched = example.run_launch_job_example.execute_in_process(resources=example.resources)
    assert launched.success
    kwargs = fake.launch_add.call_args.kwargs
    assert kwargs["queue_name"] == "my_dagster_queue"
    assert kwargs["entry_point"] == ["python", "train.py"]
    assert kwargs["job"] == f"{example.ENTITY}/{example.PROJECT}/train:latest"
    assert "wandb_run_url" in output_metadata(launched)
    assert example.defs.resolve_job_def("run_launch_job_example") is not None


def test_a_missing_queue_fails_before_anything_is_queued(fake: FakeLaunch) -> None:
    result = run_job({"job": "e/p/j:latest", "queue": "nope"})
    assert not result.success
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = event.event_specific_data.error.message
    assert "launch queue(s) ['nope'] not found in W&B entity 'my_entity'" in message
    assert "queues there: my_dagster_queue, q, a, b" in message
    assert fake.launch_add.call_count == 0
    assert not run_agent({"queues": ["q", "nope"]}).success
    assert fake.create_and_run_agent.call_count == 0


def test_the_default_queue_is_left_to_wandb_which_makes_it(fake: FakeLaunch) -> None:
    assert run_job({"job": "e/p/j:latest", "queue": "default", "synchronous": False}).success
    assert fake.launch_add.call_args.kwargs["queue_name"] == "default"
